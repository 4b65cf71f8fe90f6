"""Turning expected failures into exit codes and messages, never tracebacks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable

from osiris_runtime.cli.echo import echo

if TYPE_CHECKING:
    import click

    from osiris_runtime.errors import OsirisError


def run_cli(group: "click.Group | None", argv: list[str] | None, prog_name: str = "osiris", *, short_lived: bool = False,
            command: Callable[[], int] | None = None) -> None:
    """Run `group` (or `command`, a command line the fast path parsed without click), then exit with
    its status (an `OsirisError` as a message and its exit code).

    `short_lived`: the process runs one short command and ends here. Nearly everything it
    allocates (modules, classes, specs, the document) lives until then, so the cyclic GC runs less
    often, and at the end every object left is moved out of its reach (`gc.freeze`): the
    interpreter's final collection skips them. Reference counting still frees them and atexit
    handlers still run; only finalizers of objects in reference cycles are skipped, which Python
    never promises to run at exit anyway. Together about 8% of a 20-step compile.
    """
    import gc

    # The error types and their rendering load only when something failed: `osiris --help` and a
    # successful command never need them here.
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    if short_lived:
        gc.set_threshold(50_000, 10, 10)  # young collections every 50,000 allocations instead of 700
    try:
        if command is not None:
            _run_command(command, debug)
        else:
            assert group is not None
            _run(group, argv, prog_name, debug)
    finally:
        if short_lived:
            gc.freeze()


def _run(group: "click.Group", argv: list[str] | None, prog_name: str, debug: bool) -> None:
    import click

    try:
        rv = group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        from osiris_runtime.errors import ExitCode

        # Usage errors (unknown option, missing argument) are validation failures of the command line.
        exc.show()
        sys.exit(int(ExitCode.VALIDATION) if exc.exit_code == 2 else exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        _unexpected(exc, debug)
    sys.exit(int(rv) if isinstance(rv, int) else 0)


def _run_command(command: Callable[[], int], debug: bool) -> None:
    try:
        rv = command()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        _unexpected(exc, debug)
    sys.exit(rv)


def _unexpected(exc: Exception, debug: bool) -> None:
    from osiris_runtime.errors import OsirisError

    if debug:
        raise exc
    if isinstance(exc, OsirisError):
        _report_and_exit(exc)
    echo(f"internal error: {type(exc).__name__}: {exc} (re-run with --debug for a traceback)", err=True)
    sys.exit(1)


def _report_and_exit(exc: "OsirisError") -> None:
    from osiris_runtime.cli.diagnostic_text import diagnostic_text, see_line

    for diag in exc.diagnostics:
        echo(diagnostic_text(diag), err=True)
    echo(f"error[{exc.code}]: {exc.message}", err=True)
    if exc.fix:
        echo(f"  fix: {exc.fix}", err=True)
    if see := see_line(exc.code, indent="  "):
        echo(see, err=True)
    sys.exit(int(exc.exit_code))
