"""`osiris --help` as click renders it, kept from `make install` so that printing it needs no click.

Click lays the page out for the terminal's width, clamped to 50..78 columns: `make install`
(`python -m osiris_runtime.cli.group_help`) renders it once per width, with the group of
cli/app.py, into SHIPPED_HELP. The file also holds the exact text of the modules the page comes
from (cli/main.py, cli/app.py) and the size and mtime of the click it was rendered with; when any
of them differs, or the file is missing, `--help` is click's again (tests/cli/test_fast_path.py
compares both ways at every width).
"""

from __future__ import annotations

import marshal
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED_HELP = os.path.join(_HERE, f".group-help-{sys.implementation.cache_tag}.marshal")
_SOURCES = ("main.py", "app.py")
_MIN_WIDTH, _MAX_WIDTH = 50, 78


def help_width() -> int:
    """The width click's HelpFormatter uses (no FORCED_WIDTH, the context's max_width of 80)."""
    import shutil

    return max(min(shutil.get_terminal_size().columns, 80) - 2, _MIN_WIDTH)


def shipped_help(width: int, path: str = SHIPPED_HELP) -> str | None:
    """The page for `width`, or None when the file is missing or was rendered from other sources."""
    try:
        with open(path, "rb") as handle:
            data = marshal.load(handle)
        if data["sources"] != _current_sources() or data["click"] != _click_stamp(data["click"][0]):
            return None
        page = data["pages"][width]
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError):
        return None
    return page if isinstance(page, str) else None


def _current_sources() -> list[str]:
    texts = []
    for name in _SOURCES:
        with open(os.path.join(_HERE, name), encoding="utf-8") as handle:
            texts.append(handle.read())
    return texts


def _click_stamp(init_file: str) -> tuple[str, int, int]:
    st = os.stat(init_file)
    return (init_file, st.st_size, st.st_mtime_ns)


def write_shipped_help(path: str = SHIPPED_HELP) -> None:
    import click
    import click.formatting

    from osiris_runtime.atomic_files import write_atomically
    from osiris_runtime.cli.app import cli

    pages = {}
    for width in range(_MIN_WIDTH, _MAX_WIDTH + 1):
        click.formatting.FORCED_WIDTH = width
        try:
            pages[width] = cli.get_help(click.Context(cli, info_name="osiris", **cli.context_settings))
        finally:
            click.formatting.FORCED_WIDTH = None
    from pathlib import Path

    data = {"sources": _current_sources(), "click": _click_stamp(os.path.abspath(click.__file__)), "pages": pages}
    write_atomically(Path(path), marshal.dumps(data))


if __name__ == "__main__":
    write_shipped_help()
    print(f"osiris --help kept for widths {_MIN_WIDTH}..{_MAX_WIDTH} in {SHIPPED_HELP}")
