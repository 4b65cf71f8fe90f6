"""`workspace/executeCommand`: compile and run the pipeline in the editor.

Both work on the editor's text (unsaved edits included). Compile runs in-process: the compiler is
a pure function. Run compiles the same way, then starts `osiris-run` on the compiled directory in
a child process, so a crashing driver cannot take the language server down and cancellation is a
signal; its stderr lines are streamed to the client as progress and log messages.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from osiris_lsp.capabilities import COMPILE, DISCOVER, PIPELINE_COMMANDS, PREVIEW, RUN
from osiris_lsp.worker import die_with_parent
from osiris_lsp.workspace import DocumentSnapshot, FolderContext

COMMANDS = PIPELINE_COMMANDS
TITLES = {COMPILE: "Compiling", RUN: "Running", DISCOVER: "Discovering", PREVIEW: "Previewing"}
CANCEL_GRACE_S = 5.0


@dataclass(frozen=True)
class RunOptions:
    """What the editor may choose per run (the second argument of `osiris.run`)."""

    engine: str | None = None  # None: the `osiris.runEngine` setting
    allow_unset: bool = False  # run even though some `${VAR}`s of the used connections are unset

    @staticmethod
    def from_argument(value: Any) -> "RunOptions":
        if not isinstance(value, dict):
            return RunOptions()
        engine = value.get("engine")
        return RunOptions(engine if engine in ("local", "e2b") else None, value.get("allowUnset") is True)


@dataclass(frozen=True)
class Reporter:
    """How a command talks back while it works: progress (message, percent), log lines, a cancel flag."""

    progress: Callable[[str, int | None], None]
    log: Callable[[str], None]
    cancelled: threading.Event


class Cancelled(Exception):
    pass


def compiled_dir(snap: DocumentSnapshot, folder: FolderContext) -> Path:
    """Where a pipeline's compiled output goes: `<folder>/.osiris/compiled/<file stem>/`."""
    root = folder.root or (snap.path.parent if snap.path else Path(tempfile.gettempdir()))
    stem = snap.path.name if snap.path else "untitled"
    stem = re.sub(r"\.(oml\.)?ya?ml$", "", stem) or "pipeline"
    return root / ".osiris" / "compiled" / stem


def _compile(snap: DocumentSnapshot, folder: FolderContext, reporter: Reporter) -> tuple[dict[str, Any], Any]:
    from osiris_runtime.compiler import compile_pipeline, write_compiled
    from osiris_runtime.errors import OsirisError

    reporter.progress("compiling", 10)
    result = compile_pipeline(snap.text, folder.registry, connections=folder.connections(),
                              source=str(snap.path) if snap.path else snap.uri)
    diagnostics = [d.to_json() for d in result.diagnostics]
    if result.pipeline is None:
        errors = [d for d in result.diagnostics if d.is_error]
        reporter.log(f"compile failed: {len(errors)} error(s)")
        for d in errors:
            reporter.log(d.format(str(snap.path) if snap.path else snap.uri))
        return {"ok": False, "command": "compile", "diagnostics": diagnostics}, None
    out_dir = compiled_dir(snap, folder)
    try:
        write_compiled(result.pipeline, out_dir)
    except OsirisError as exc:  # the folder holds links or foreign files: refused, as in the CLI
        reporter.log(f"compile failed: {exc.code}: {exc.message}")
        return {"ok": False, "command": "compile", "diagnostics": diagnostics,
                "error": {"code": exc.code, "message": exc.message}}, None
    files = sorted(str(out_dir / name) for name in result.pipeline.files())
    reporter.progress(f"compiled to {out_dir}", 100)
    summary = {
        "ok": True, "command": "compile", "out_dir": str(out_dir), "manifest": str(out_dir / "manifest.yaml"),
        "outputs": files, "steps": list(result.pipeline.step_ids), "stages": result.pipeline.stages,
        "diagnostics": diagnostics,
    }
    return summary, out_dir


def compile_document(snap: DocumentSnapshot, folder: FolderContext, reporter: Reporter) -> dict[str, Any]:
    """Compile the document into `compiled_dir`; the result names the files written."""
    return _compile(snap, folder, reporter)[0]


def run_command_line(out_dir: Path, folder: FolderContext, work_dir: Path | None = None,
                     engine: str | None = None) -> list[str]:
    from osiris_runtime.runner.child import osiris_run_command

    settings = folder.settings
    base = osiris_run_command()
    run_engine = engine or settings.run_engine
    args = [str(out_dir), "--json", "--engine", run_engine]
    if run_engine == "e2b":
        if settings.e2b_template:
            args += ["--e2b-template", settings.e2b_template]
        if settings.e2b_timeout:
            args += ["--e2b-timeout", f"{settings.e2b_timeout:g}"]
    if work_dir is not None:
        args += ["--work-dir", str(work_dir)]
    connections = folder.connections_path()
    if connections is not None:
        args += ["--connections", str(connections)]
    if settings.secrets_file is not None:
        args += ["--secrets-file", str(settings.secrets_file)]
    return base + args


def unset_connection_variables(snap: DocumentSnapshot, folder: FolderContext) -> list[dict[str, Any]]:
    """The `connection.env-unset` warnings of the document, as diagnostics JSON (names, never values)."""
    from osiris_runtime.oml.connections import unset_variables
    from osiris_runtime.secrets import SecretSources

    connections = folder.connections()
    if connections is None:
        return []
    lookup = SecretSources(folder.settings.secrets_file).lookup()
    return [d.to_json() for d in unset_variables(snap.document(), folder.registry, connections, lookup)]


def run_document(snap: DocumentSnapshot, folder: FolderContext, reporter: Reporter,
                 argument: Any = None) -> dict[str, Any]:
    """Compile, check the connections' variables, then run; the result has the run directory and
    each step's status and rows. Unset `${VAR}`s stop the run before it starts unless allowed.
    `argument`: the command's second argument, `{engine?, allowUnset?}` (`RunOptions`)."""
    options = RunOptions.from_argument(argument)
    compiled, out_dir = _compile(snap, folder, reporter)
    if out_dir is None:
        return {**compiled, "command": "run"}
    if not options.allow_unset:
        unset = unset_connection_variables(snap, folder)
        if unset:
            reporter.log("not running: " + "; ".join(d["message"] for d in unset))
            return {"ok": False, "command": "run", "not_started": True, "unset_variables": unset,
                    "out_dir": compiled.get("out_dir"), "error": unset[0]["message"]}
    if reporter.cancelled.is_set():
        return {"ok": False, "command": "run", "cancelled": True}
    # relative paths in step configs start at the pipeline file's folder, as with `osiris run file`
    work_dir = snap.path.parent if snap.path is not None and snap.path.parent.is_dir() else None
    argv = run_command_line(out_dir, folder, work_dir, options.engine)
    reporter.log("running: " + " ".join(argv))
    cwd = folder.root or (snap.path.parent if snap.path else None)
    total = max(len(compiled.get("steps", [])), 1)
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_run_env(folder), start_new_session=True, preexec_fn=die_with_parent)
    stdout_chunks: list[str] = []
    reader = threading.Thread(target=lambda: stdout_chunks.append(proc.stdout.read() if proc.stdout else ""), daemon=True)
    reader.start()
    watcher = threading.Thread(target=_stop_on_cancel, args=(proc, reporter.cancelled), daemon=True)
    watcher.start()
    finished = 0
    assert proc.stderr is not None
    for line in proc.stderr:
        line = line.rstrip()
        if not line:
            continue
        if _STEP_DONE.match(line):
            finished = min(finished + 1, total)
        reporter.progress(line, 10 + int(85 * finished / total))
    code = proc.wait()
    reader.join(timeout=5)
    if reporter.cancelled.is_set():
        return {"ok": False, "command": "run", "cancelled": True, "exit_code": code}
    result = _run_result(code, "".join(stdout_chunks), compiled, Path(cwd) if cwd else Path.cwd())
    failed = result.get("failed_step")
    step = next((s for s in snap.document().steps() if s.id == failed), None) if failed else None
    if step is not None:
        rng = step.id_range
        result["failed_step_range"] = {"start": {"line": rng.start.line, "character": rng.start.column},
                                       "end": {"line": rng.end.line, "character": rng.end.column}}
    return result


_STEP_DONE = re.compile(r"^\[osiris\] [^:]+: (ok|FAILED|cancelled)\b")


def _run_env(folder: FolderContext) -> dict[str, str]:
    """The run's environment: the server's, plus the components path the editor configured."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("OSIRIS_LLM_API_KEY", None)  # Generate's key (VS Code sets it for the server): no business of a run
    extra = [str(p) for p in folder.settings.components_path]
    if extra:
        env["OSIRIS_COMPONENTS_PATH"] = os.pathsep.join(filter(None, [env.get("OSIRIS_COMPONENTS_PATH", ""), *extra]))
    return env


def _stop_on_cancel(proc: subprocess.Popen[str], cancelled: threading.Event) -> None:
    while proc.poll() is None:
        if cancelled.wait(0.1):
            try:
                os.killpg(proc.pid, signal.SIGINT)
                deadline = time.monotonic() + CANCEL_GRACE_S
                while proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return


def _error_text(error: Any) -> str | None:
    """The run summary's error ({code, message} or a string) as one line for the editor."""
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)
    return None if error is None else str(error)


def _run_result(code: int, stdout: str, compiled: dict[str, Any], cwd: Path) -> dict[str, Any]:
    from osiris_runtime.runner.child import last_json_object

    summary = last_json_object(stdout)
    steps: list[dict[str, Any]] = []
    for step in summary.get("steps", []) or []:
        if isinstance(step, dict) and step.get("step"):
            ok = step.get("status") == "ok"
            # a failed or cancelled step's counts are partial: report none rather than a wrong one
            rows = int(step.get("rows_written") or step.get("rows_out") or step.get("rows_read") or 0) if ok else None
            steps.append({"step": str(step["step"]), "status": step.get("status"), "rows": rows,
                          "duration_ms": step.get("duration_ms")})
    run_dir = summary.get("run_dir")
    error = summary.get("error")
    return {
        "ok": code == 0, "command": "run", "exit_code": code, "run_dir": str(cwd / run_dir) if run_dir else None,
        "out_dir": compiled.get("out_dir"), "outputs": summary.get("outputs", []),
        "rows": {s["step"]: s["rows"] for s in steps if s["rows"] is not None}, "steps": steps,
        "status": summary.get("status"), "failed_step": summary.get("failed_step"),
        "error": _error_text(error), "summary": summary,
    }


def discover_tables(snap: DocumentSnapshot, folder: FolderContext, reporter: Reporter, ref: Any = None) -> dict[str, Any]:
    """Discover one alias into the folder's cache (the only place the server connects to a database)."""
    from osiris_runtime.discovery.refresh import refresh_alias
    from osiris_runtime.oml.connections import parse_connection_ref
    from osiris_runtime.secrets import ConnectionResolver, Redactor, SecretSources, secret_keys_from_registry

    parsed = parse_connection_ref(ref) if isinstance(ref, str) else None
    connections = folder.connections()
    if parsed is None or connections is None:
        return {"ok": False, "command": "discover", "message": f"not a connection of the connections file: {ref!r}"}
    alias = connections.get(parsed[0], parsed[1])
    if alias is None:
        return {"ok": False, "command": "discover", "message": f"no connection {ref} in {connections.path}"}
    label = f"@{alias.family}.{alias.alias}"
    resolver = ConnectionResolver(folder.connections_path(), SecretSources(folder.settings.secrets_file), Redactor(),
                                  secret_keys_from_registry(folder.registry))
    result = refresh_alias(alias, resolver, folder.registry, folder.discovery_root(), force=True,
                           progress=lambda phase, done, total: reporter.progress(f"{label}: {phase}", int(100 * done / max(total, 1))))
    reporter.log(f"discover {label}: {result.state} ({result.category}): {result.message}")
    out: dict[str, Any] = {"ok": result.ok, "command": "discover", "connection": label, "state": result.state,
                           "category": result.category, "message": result.message}
    if result.catalog is not None:
        out.update(tables=len(result.catalog.tables), cache=str(result.path), discovered_at=result.catalog.discovered_at)
    return out


def preview_step(snap: DocumentSnapshot, folder: FolderContext, reporter: Reporter, step_id: Any = None,
                 limit: Any = 100) -> dict[str, Any]:
    """Compile, then `osiris preview` the step in a child process (drivers run there, never writers)."""
    if not isinstance(step_id, str) or not step_id:
        return {"ok": False, "command": "preview", "message": "osiris.preview needs a step id"}
    compiled, out_dir = _compile(snap, folder, reporter)
    if out_dir is None:
        return {**compiled, "command": "preview"}
    from osiris_runtime.runner.child import last_json_object, osiris_command

    argv = osiris_command() + ["preview", str(out_dir), "--step", step_id, "--limit", str(int(limit or 100)), "--json"]
    connections = folder.connections_path()
    if connections is not None:
        argv += ["--connections", str(connections)]
    if folder.settings.secrets_file is not None:
        argv += ["--secrets-file", str(folder.settings.secrets_file)]
    cwd = snap.path.parent if snap.path is not None and snap.path.parent.is_dir() else folder.root
    reporter.progress(f"previewing {step_id}", 30)
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_run_env(folder), start_new_session=True, preexec_fn=die_with_parent)
    watcher = threading.Thread(target=_stop_on_cancel, args=(proc, reporter.cancelled), daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate()
    if reporter.cancelled.is_set():
        return {"ok": False, "command": "preview", "cancelled": True}
    if proc.returncode != 0:
        message = next((line for line in reversed(stderr.splitlines()) if line.strip()), f"exit {proc.returncode}")
        return {"ok": False, "command": "preview", "exit_code": proc.returncode, "message": message}
    data = last_json_object(stdout)
    return {"ok": True, "command": "preview", **data, "markdown": preview_markdown(data)}


def preview_markdown(data: dict[str, Any], max_width: int = 40) -> str:
    """The preview as a Markdown table (a client without a webview can show it as is)."""
    columns = data.get("columns") or []
    if not columns:
        return f"`{data.get('step')}` produced no rows"

    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(value)
        text = text if len(text) <= max_width else text[:max_width - 1] + "…"
        return text.replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(f"{c['name']} `{c.get('source_type') or c['type']}`" for c in columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in data.get("rows") or []]
    note = f"\n\n{data['row_count']} row(s) of `{data['step']}`" + (f"; {data['note']}" if data.get("note") else "")
    return "\n".join([head, rule, *body]) + note


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    COMPILE: compile_document, RUN: run_document, DISCOVER: discover_tables, PREVIEW: preview_step,
}
