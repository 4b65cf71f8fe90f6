"""`osiris-lsp` / `python -m osiris_lsp`: start the OML language server on stdio (`--version`: print it)."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from osiris_lsp import __version__

        print(__version__)
        return
    from osiris_lsp.front import serve

    serve()


if __name__ == "__main__":
    main()
