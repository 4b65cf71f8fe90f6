"""`osiris run` (and `osiris-run`, which is `osiris run --headless`): run a pipeline.

A thin edge: load or compile the pipeline (OML goes through the same compiler call as
`osiris compile`), pick the engine, wire the display to the run's event bus, print the summary.
Output rules: logs and progress on stderr; stdout holds the result (the summary and the run
directory, or exactly one JSON object with --json). Rich only on a TTY and never when headless.
Exit codes: 0 ok, 2 validation, 3 compile, 4 run, 5 config.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from osiris_runtime.cli.diagnostic_text import diagnostic_text
from osiris_runtime.cli.compile import parse_param_options  # one NAME=VALUE parser for compile and run
from osiris_runtime.errors import CompileFailed, ExitCode, OsirisError, ValidationFailed


@click.command("run")
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--engine", type=click.Choice(["local", "e2b"]), default="local", show_default=True,
              help="Where the steps run.")
@click.option("--secrets-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Variables for ${VAR} in the connections file: dotenv, or YAML (.yaml/.yml). Wins over the environment.")
@click.option("--connections", "connections_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="osiris_connections.yaml (default: $OSIRIS_CONNECTIONS, else the nearest one above the pipeline).")
@click.option("--param", "params", multiple=True, callback=parse_param_options, metavar="NAME=VALUE",
              help="Set a pipeline param when compiling OML.")
@click.option("--profile", default=None, envvar="OSIRIS_PROFILE", help="Active profile when compiling OML.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Run directory (default .osiris/runs/<timestamp>_<run_id>).")
@click.option("--work-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Where relative file paths in step configs start (default: the OML file's folder, or the "
                   "current folder for a compiled directory).")
@click.option("--max-parallel", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Independent branches run at the same time.")
@click.option("--e2b-template", envvar="OSIRIS_E2B_TEMPLATE", default=None, metavar="NAME",
              help="e2b engine: the sandbox template (default: e2b's `base`; see docs/e2b.md). Env: OSIRIS_E2B_TEMPLATE.")
@click.option("--e2b-timeout", envvar="OSIRIS_E2B_TIMEOUT", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="e2b engine: the sandbox lifetime in seconds (default 900). Env: OSIRIS_E2B_TIMEOUT.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout (see docs/running.md).")
@click.option("--headless", is_flag=True, hidden=True, help="No colour, no progress display (osiris-run).")
@click.option("--stream-events", is_flag=True, hidden=True,
              help="Every event as one JSON line on stdout, as it happens (the e2b engine reads the sandbox's run so).")
@click.pass_context
def run_command(ctx: click.Context, target: Path, engine: str, secrets_file: Path | None, connections_path: Path | None,
                params: dict[str, str], profile: str | None, out_dir: Path | None, work_dir: Path | None,
                max_parallel: int, e2b_template: str | None, e2b_timeout: float | None, as_json: bool, headless: bool,
                stream_events: bool) -> None:
    """Run TARGET: an OML pipeline file, or a compiled directory (or its manifest.yaml)."""
    from osiris_runtime.registry import registry_for_cli
    from osiris_runtime.runner.engine import RunOptions, get_engine
    from osiris_runtime.secrets import RedactingFilter, Redactor

    env = dict(os.environ)
    redactor = Redactor()
    _route_logs_to_stderr(RedactingFilter(redactor))
    registry = registry_for_cli(env)
    connections_file = _connections_file(target, env, connections_path)
    pipeline, default_work_dir = _load_or_compile(target, registry, env, params, profile, connections_path, as_json)
    options = RunOptions(
        run_dir=out_dir,
        work_dir=(work_dir or default_work_dir).resolve(),
        connections_file=connections_file,
        secrets_file=secrets_file,
        max_parallel=max_parallel,
        sandbox_template=e2b_template or None,
        sandbox_timeout=e2b_timeout,
    )
    runner = get_engine(engine, registry, redactor)
    fancy = not headless and not as_json and sys.stderr.isatty()
    console = _console() if fancy else None
    observers: list[Any] = []
    if stream_events:
        observers.append(_json_lines(sys.stdout))
    elif not fancy:
        from osiris_runtime.runner.progress import PlainLog

        observers.append(PlainLog(sys.stderr))
    try:
        prepared = runner.prepare(pipeline, options, observers)
    except OsirisError as exc:  # no run directory could be made: nothing ran, nothing to collect
        if as_json:
            click.echo(json.dumps({"status": "error", "phase": "prepare", "exit_code": int(exc.exit_code),
                                   "error": {"code": exc.code, "message": exc.message}}, sort_keys=True))
        raise
    if fancy:
        from osiris_runtime.runner.progress import RichProgress

        display = RichProgress(console, prepared.live, [s.id for s in prepared.steps])
        prepared.bus.subscribe(display)
        with display:
            result = runner.execute(prepared)
    else:
        result = runner.execute(prepared)  # Ctrl-C cancels the steps and still writes the artifacts
    summary = runner.collect(prepared, result)
    _report(summary, as_json=as_json, fancy=fancy, console=console)
    ctx.exit(summary.exit_code)


def _route_logs_to_stderr(redaction: logging.Filter) -> None:
    """Driver and library logs go to stderr, through the run's redactor, at WARNING and above."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(redaction)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)


def _json_lines(stream: Any) -> Any:
    from osiris_runtime.runner.events import to_json_line

    def write(record: dict[str, Any]) -> None:
        stream.write(to_json_line(record) + "\n")
        stream.flush()

    return write


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _connections_file(target: Path, env: dict[str, str], explicit: Path | None) -> Path | None:
    from osiris_runtime.oml.connections import find_connections_file

    return find_connections_file(target if target.is_file() else Path.cwd(), env, explicit)


def is_manifest_file(path: Path) -> bool:
    """A compiled manifest (has `compiler`, `plan` and `steps`), as opposed to OML."""
    if path.name != "manifest.yaml":
        return False
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        from osiris_runtime.bounded_read import read_limited

        data = YAML(typ="safe").load(read_limited(path))
    except (OSError, YAMLError):
        return False
    return isinstance(data, dict) and {"compiler", "plan", "steps"} <= set(data)


def _load_or_compile(target: Path, registry: Any, env: dict[str, str], params: dict[str, str], profile: str | None,
                     connections_path: Path | None, as_json: bool) -> tuple[Any, Path]:
    """The compiled pipeline and where its relative paths start."""
    from osiris_runtime.compiler import compile_pipeline, load_compiled_to_run

    if target.is_dir():
        return load_compiled_to_run(target), Path.cwd()
    if is_manifest_file(target):
        return load_compiled_to_run(target.parent), Path.cwd()
    # Same inputs and same call as `osiris compile`, so a pipeline runs exactly as it compiles.
    from osiris_runtime.cli.compile_to_dir import load_pipeline_connections, read_pipeline_text

    text = read_pipeline_text(target)
    connections = load_pipeline_connections(target, env, connections_path)
    result = compile_pipeline(text, registry, params=params, env=env, profile=profile, mode="warn",
                              connections=connections, source=str(target))
    for diag in result.warnings:
        click.echo(diagnostic_text(diag), err=True)
    if result.pipeline is None:
        if as_json:
            click.echo(json.dumps({"status": "error", "phase": "compile", "exit_code": int(result.exit_code),
                                   "diagnostics": [d.to_json() for d in result.diagnostics]}, sort_keys=True))
        errors = result.errors
        failure = CompileFailed if result.exit_code == ExitCode.COMPILE else ValidationFailed
        raise failure(f"{target}: {len(errors)} error{'s' if len(errors) != 1 else ''}, nothing ran",
                      code="compile.failed", diagnostics=() if as_json else errors)
    return result.pipeline, target.parent


def _report(summary: Any, *, as_json: bool, fancy: bool, console: Any) -> None:
    if as_json:
        click.echo(json.dumps(summary.to_json(), sort_keys=True, ensure_ascii=False))
        return
    from osiris_runtime.runner.progress import render_summary_plain, render_summary_rich

    if fancy:
        from rich.console import Console

        render_summary_rich(summary, Console())
    else:
        render_summary_plain(summary, sys.stdout)
    if summary.error is not None:
        where = f"step `{summary.failed_step}`: " if summary.failed_step else ""
        click.echo(f"error[{summary.error.code}]: {where}{summary.error.message}", err=True)
    click.echo(f"run directory: {summary.run_dir}")

