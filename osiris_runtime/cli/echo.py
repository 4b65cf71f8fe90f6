"""`echo`: click.echo's output for text, without importing click.

The commands that `osiris` runs without click (cli/fast_path.py) print through this, and so do
their click wrappers: one output path for both. Like click.echo it flushes, and strips ANSI
escape codes when the stream is not a terminal; a stream click would re-wrap (an ASCII encoding,
no encoding at all) is left to click.echo itself.
"""

from __future__ import annotations

import sys


def echo(message: str, err: bool = False, nl: bool = True) -> None:
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    if not _writes_as_is(stream):
        import click

        click.echo(message, err=err, nl=nl)
        return
    out = message + "\n" if nl else message
    if not out:
        stream.flush()
        return
    if "\x1b" in out and _strips_ansi(stream):
        import re

        out = re.sub(r"\033\[[0-?]*[ -/]*[@-~]", "", out)  # click's pattern (click._compat._ansi_re)
    stream.write(out)
    stream.flush()


def _writes_as_is(stream: object) -> bool:
    """A text stream with a non-ASCII encoding and an error handler: what click writes to directly."""
    import codecs

    encoding, errors = getattr(stream, "encoding", None), getattr(stream, "errors", None)
    if not isinstance(encoding, str) or errors is None or hasattr(stream, "color"):
        return False
    try:
        return codecs.lookup(encoding).name != "ascii"
    except LookupError:
        return True  # click: an unknown encoding is not ASCII, so the stream is used as it is


def _strips_ansi(stream: object) -> bool:
    try:
        if stream.isatty():  # type: ignore[attr-defined]
            return False
    except Exception:  # noqa: BLE001 - as click: a stream that cannot tell is not a terminal
        pass
    return not type(stream).__module__.startswith("ipykernel.")
