"""`osiris compile` without click: the command's work, called by its click command (cli/compile.py)
and by the click-free fast path (cli/fast_path.py). Heavy imports (Rich) load only when a terminal
will show them. Exit codes: 0 ok, 2 validation, 3 compile, 5 config."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from osiris_runtime.cli.diagnostic_text import diagnostic_text
from osiris_runtime.cli.echo import echo
from osiris_runtime.errors import CompileFailed, ConfigError, Diagnostic, ExitCode, OsirisError, ValidationFailed


def param_pairs(values: tuple[str, ...]) -> dict[str, str] | str:
    """`--param NAME=VALUE`s as {NAME: VALUE}, or the message for the first that is not one."""
    parsed: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            return f"expected NAME=VALUE, got {item!r}"
        parsed[name.strip()] = value
    return parsed


def compile_to_dir(pipeline: Path, out_dir: Path, mode: str, params: dict[str, str], profile: str | None,
                   connections_path: Path | None, as_json: bool) -> int:
    """Compile PIPELINE into OUT_DIR, report it (or one JSON object), and return the exit status;
    an `OsirisError` without --json is raised for main to report."""
    try:
        result = _compile_and_write(pipeline, out_dir, mode, params, profile, connections_path)
    except OsirisError as exc:
        if not as_json:
            raise
        echo(json.dumps(_json_failure(pipeline, out_dir, exc), ensure_ascii=False, sort_keys=True))
        return int(exc.exit_code)
    if as_json:
        echo(json.dumps(_json_report(pipeline, out_dir, result), ensure_ascii=False, sort_keys=True))
        return int(result.exit_code)
    for diag in result.warnings:
        echo(diagnostic_text(diag), err=True)
    if result.pipeline is None:
        errors = result.errors
        message = f"{pipeline}: {len(errors)} error{'s' if len(errors) != 1 else ''}, nothing written"
        failure = CompileFailed if result.exit_code == ExitCode.COMPILE else ValidationFailed
        raise failure(message, code="compile.failed", diagnostics=errors)
    _print_summary(result.pipeline, out_dir)
    return int(ExitCode.OK)


def _compile_and_write(pipeline: Path, out_dir: Path, mode: str, params: dict[str, str], profile: str | None,
                       connections_path: Path | None) -> Any:
    from osiris_runtime.compiler import compile_pipeline, write_compiled
    from osiris_runtime.registry import registry_for_cli

    text = read_pipeline_text(pipeline)
    env = dict(os.environ)
    # `--mode off` skips checking references against a connections file it finds, not one it is given.
    connections = None if mode == "off" and connections_path is None else load_pipeline_connections(pipeline, env, connections_path)
    # The disk cache of checked specs spares a cold CLI the YAML parsing and JSON Schema checks.
    registry = registry_for_cli(env)
    result = compile_pipeline(text, registry, params=params, env=env, profile=profile, mode=mode,  # type: ignore[arg-type]
                              connections=connections, source=str(pipeline))
    if result.pipeline is not None:
        try:
            write_compiled(result.pipeline, out_dir)
        except OSError as exc:
            raise ConfigError(f"cannot write {out_dir}: {exc.strerror or exc}", code="compile.cannot-write",
                              fix="choose a writable --out directory") from exc
    return result


def read_pipeline_text(pipeline: Path) -> str:
    from osiris_runtime.bounded_read import FileTooLarge, read_limited

    try:
        return read_limited(pipeline).decode("utf-8")
    except FileTooLarge as exc:
        raise ValidationFailed(f"{pipeline}: {exc.strerror}", code="yaml.too-large",
                               fix="split the pipeline into smaller files") from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{pipeline} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                               code="yaml.encoding", fix="save the file as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {pipeline}: {exc.strerror or exc}", code="compile.cannot-read") from exc


def load_pipeline_connections(pipeline: Path, env: dict[str, str], explicit: Path | None) -> Any:
    """The connections file to check references against; an explicit or broken one is exit 5."""
    from osiris_runtime.oml.connections import find_connections_file, load_connections

    path = find_connections_file(pipeline, env, explicit)
    if path is None:
        return None
    connections = load_connections(path)
    errors = [d for d in connections.diagnostics if d.is_error]
    if errors:
        raise ConfigError(f"connections file {path} has {len(errors)} error(s)", code="connection.invalid-file",
                          diagnostics=errors, fix="fix the connections file or pass --connections")
    return connections


def _json_report(pipeline: Path, out_dir: Path, result: Any) -> dict[str, Any]:
    compiled = result.pipeline
    report: dict[str, Any] = {
        "status": "ok" if compiled is not None else "error",
        "exit_code": int(result.exit_code),
        "pipeline": str(pipeline),
        "out_dir": str(out_dir),
        "diagnostics": [_diag_json(d) for d in result.diagnostics],
    }
    if compiled is not None:
        manifest = compiled.manifest
        report.update({
            "name": manifest.get("name"),
            "manifest": str(out_dir / "manifest.yaml"),
            "files": sorted(compiled.files()),
            "fingerprints": manifest["fingerprints"],
            "steps": compiled.step_ids,
            "stages": compiled.stages,
            "params": manifest.get("params", {}),
            "profile": manifest.get("profile"),
        })
    return report


def _json_failure(pipeline: Path, out_dir: Path, exc: OsirisError) -> dict[str, Any]:
    """The --json object when the compile could not even start (connections file, unreadable input)."""
    return {
        "status": "error",
        "exit_code": int(exc.exit_code),
        "pipeline": str(pipeline),
        "out_dir": str(out_dir),
        "error": {"code": exc.code, "message": exc.message, "fix": exc.fix},
        "diagnostics": [_diag_json(d) for d in exc.diagnostics],
    }


def _diag_json(diag: Diagnostic) -> dict[str, Any]:
    out = diag.to_json()
    out["text"] = diag.format()
    return out


def _print_summary(compiled: Any, out_dir: Path) -> None:
    steps, stages = compiled.step_ids, compiled.stages
    line = (f"compiled {compiled.manifest.get('name') or 'pipeline'}: {len(steps)} step{'s' if len(steps) != 1 else ''}"
            f" in {len(stages)} stage{'s' if len(stages) != 1 else ''} -> {out_dir / 'manifest.yaml'}")
    if not sys.stdout.isatty():
        echo(line)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"[bold]{compiled.manifest.get('name') or 'pipeline'}[/] compiled", title_justify="left")
    table.add_column("stage", justify="right")
    table.add_column("steps")
    for index, stage in enumerate(stages, start=1):
        table.add_row(str(index), ", ".join(stage))
    console = Console()
    console.print(table)
    console.print(f"{len(steps)} steps, {len(stages)} stages -> [bold]{out_dir / 'manifest.yaml'}[/]")
