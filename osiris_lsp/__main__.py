"""`osiris-lsp` / `python -m osiris_lsp`: start the OML language server on stdio."""

from __future__ import annotations


def main() -> None:
    from osiris_lsp.server import serve

    serve()


if __name__ == "__main__":
    main()
