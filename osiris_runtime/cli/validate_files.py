"""`osiris oml validate` without click: the command's work, called by its click command (cli/oml.py)
and by the click-free fast path (cli/fast_path.py)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from osiris_runtime.cli.diagnostic_text import diagnostic_text
from osiris_runtime.cli.echo import echo
from osiris_runtime.errors import Diagnostic, ExitCode, Range, Severity


def validate_files(files: tuple[Path, ...], as_json: bool, strict: bool, connections_path: Path | None,
                   with_discovery: bool = False, secrets_file: Path | None = None) -> int:
    """Validate OML files, print each problem (or one JSON object), and return the exit status."""
    from osiris_runtime.oml.connections import (
        find_connections_file,
        load_connections,
        unset_variables,
        validate_connections,
    )
    from osiris_runtime.oml.document import parse_oml
    from osiris_runtime.oml.rules import validate
    from osiris_runtime.registry import registry_for_cli

    registry = registry_for_cli()
    env = dict(os.environ)
    if secrets_file is not None:
        from osiris_runtime.secrets import SecretSources

        lookup = SecretSources(secrets_file, env).lookup()  # a bad secrets file: ConfigError, exit 5 by main
    else:  # what SecretSources gives without a file, without importing the run-time secrets module
        lookup = env.get
    loaded: dict[Path, Any] = {}
    reports: list[dict[str, Any]] = []
    connection_reports: list[dict[str, Any]] = []
    all_diagnostics: list[Diagnostic] = []
    for path in files:
        text, read_problems = _read_text(path)
        found = find_connections_file(path, env, connections_path)
        conns = None
        if found is not None:
            key = found.resolve() if found.exists() else found
            if key not in loaded:
                loaded[key] = load_connections(found)
                conn_diags = _strict(list(loaded[key].diagnostics) + validate_connections(loaded[key], registry), strict)
                connection_reports.append({"file": str(found), "diagnostics": conn_diags})
                all_diagnostics += conn_diags
            conns = loaded[key]
        diagnostics = _strict(read_problems, strict)
        doc = None
        if text is not None:
            doc = parse_oml(text, source=str(path))
            discovery = None
            if with_discovery:
                from osiris_runtime.discovery.cache import workspace_catalogs

                discovery = workspace_catalogs(conns, registry, path.parent)
            diagnostics += validate(doc, registry, connections=conns, strict=strict, discovery=discovery)
            if conns is not None:
                unset = unset_variables(doc, registry, conns, lookup)
                diagnostics += _strict([replace(d, source=doc.source) for d in unset], strict)
        all_diagnostics += diagnostics
        reports.append({"file": str(path), "doc": doc, "diagnostics": diagnostics,
                        "connections": str(found) if found is not None else None})
    errors, warnings = _summary(all_diagnostics)
    if as_json:
        echo(json.dumps(_json_report(reports, connection_reports, strict, errors, warnings), indent=2, default=str))
    else:
        for report in connection_reports:
            for diag in report["diagnostics"]:
                echo(diagnostic_text(diag))
        for report in reports:
            for diag in report["diagnostics"]:
                echo(diagnostic_text(diag))
        if errors or warnings:
            echo(f"{errors} error(s), {warnings} warning(s) in {len(files)} file(s)", err=True)
        else:
            echo(f"{len(files)} file(s) valid", err=True)
    return int(ExitCode.VALIDATION) if errors else int(ExitCode.OK)



def _read_text(path: Path) -> tuple[str | None, list[Diagnostic]]:
    from osiris_runtime.bounded_read import FileTooLarge, read_limited

    try:
        raw = read_limited(path)
    except FileTooLarge as exc:
        return None, [Diagnostic("yaml.too-large", f"{path}: {exc.strerror}", Range(),
                                 fix="split the pipeline into smaller files", source=str(path))]
    except OSError as exc:
        return None, [Diagnostic("oml.unreadable", f"cannot read {path}: {exc.strerror or exc}", Range(),
                                 fix="check the path", source=str(path))]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        return raw.decode("utf-8", errors="replace"), [
            Diagnostic("yaml.encoding", f"the file is not valid UTF-8 (byte {exc.start}); bad bytes were replaced",
                       Range(), Severity.ERROR, fix="save the file as UTF-8", source=str(path))
        ]


def _summary(diagnostics: list[Diagnostic]) -> tuple[int, int]:
    """Errors and warnings found, counting those the cap did not show (`oml.too-many-problems`)."""
    shown = [d for d in diagnostics if d.code != "oml.too-many-problems"]
    hidden = [d.data for d in diagnostics if d.code == "oml.too-many-problems"]
    errors = sum(1 for d in shown if d.severity is Severity.ERROR) + sum(h.get("errors_not_shown", 0) for h in hidden)
    warnings = sum(1 for d in shown if d.severity is Severity.WARNING) + sum(h.get("warnings_not_shown", 0) for h in hidden)
    return errors, warnings


def _strict(diagnostics: list[Diagnostic], strict: bool) -> list[Diagnostic]:
    if not strict:
        return diagnostics
    return [replace(d, severity=Severity.ERROR) if d.severity is Severity.WARNING else d for d in diagnostics]


def _json_report(reports: list[dict[str, Any]], connection_reports: list[dict[str, Any]], strict: bool,
                 errors: int, warnings: int) -> dict[str, Any]:
    files = []
    for report in reports:
        doc = report["doc"]
        data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
        file_errors, file_warnings = _summary(report["diagnostics"])
        files.append({
            "file": report["file"],
            "valid": file_errors == 0,
            "errors": file_errors,
            "warnings": file_warnings,
            "oml_version": data.get("oml_version") if isinstance(data.get("oml_version"), str) else None,
            "name": data.get("name") if isinstance(data.get("name"), str) else None,
            "steps_count": len(doc.steps()) if doc is not None else 0,
            "connections_file": report["connections"],
            "diagnostics": [d.to_json() for d in report["diagnostics"]],
        })
    return {
        "valid": errors == 0,
        "strict": strict,
        "summary": {"files": len(reports), "errors": errors, "warnings": warnings},
        "files": files,
        "connections": [{"file": r["file"], "diagnostics": [d.to_json() for d in r["diagnostics"]]} for r in connection_reports],
    }
