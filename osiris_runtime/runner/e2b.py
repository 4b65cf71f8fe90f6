"""The e2b engine: runs a compiled pipeline with `osiris-run` inside an e2b cloud sandbox.

The run directory, the events, the progress display, the summary and the exit codes are the
local engine's (prepare and collect are shared); only `execute` differs:

1. create a sandbox (`Sandbox.create`; the SDK reads its own environment: `E2B_API_KEY`,
   `E2B_DOMAIN`, `E2B_DEBUG`, `E2B_SANDBOX_URL`, ... and the engine never overrides it);
2. ask `osiris-run --version` through the sandbox's login shell; when it is not this version,
   upload a wheel of the installed Osiris and install it into a virtual environment;
3. upload the compiled manifest + cfg/, the connections file as written, and the input files;
4. run `osiris-run ... --json --stream-events` with exactly the secrets the pipeline's
   connections reference as environment variables of that one command; its events are forwarded
   to the run's bus as they arrive (paths mapped back to local ones);
5. download the files the pipeline wrote and the remote events/metrics/status, and kill the
   sandbox, whatever happened.

Failures keep the engine's exit codes: no or a rejected API key -> 5 before anything is
uploaded; a sandbox that cannot be created, a failing install, a failing step, the sandbox
lifetime running out, a sandbox that stops answering -> 4 naming the step that was running;
Ctrl-C -> the command and the sandbox are killed, 130.
"""

from __future__ import annotations

import json
import logging
import shlex
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from osiris_runtime.errors import ExitCode
from osiris_runtime.runner.engine import CompiledLike, RunOptions
from osiris_runtime.runner.local import INTERRUPTED_EXIT, ExecResult, LocalEngine, PreparedRun
from osiris_runtime.runner.sandbox_plan import (
    SANDBOX_HOME, PathMapper, SandboxLayout, SandboxPlan, plan_transfers, referenced_variables,
)
from osiris_runtime.runner.scheduler import StepError, StepOutcome
from osiris_runtime.runner.wheel import cached_wheel, default_cache_dir, installed_version

log = logging.getLogger("osiris_runtime.runner.e2b")

DEFAULT_TIMEOUT_S = 900.0  # the sandbox lifetime when neither --e2b-timeout nor OSIRIS_E2B_TIMEOUT says
VENV = f"{SANDBOX_HOME}/.osiris/venv"
WHEELS = f"{SANDBOX_HOME}/.osiris/wheels"
PROBE_TIMEOUT_S = 60.0
INSTALL_TIMEOUT_S = 600.0
LAST_EVENTS = 3  # how many of the last events a lost-sandbox message quotes
API_KEY_HOWTO = ("get a key at https://e2b.dev/dashboard and `export E2B_API_KEY=e2b_...` "
                 "(or run with --engine local)")


@dataclass
class RemoteCounters:
    """The progress display's per-step counters, filled from the remote step events."""

    rows_read: int = 0
    rows_written: int = 0


@dataclass
class SandboxRun:
    """What one execute() learned about its sandbox; status.json's `sandbox` and the timings."""

    template: str | None
    timeout_s: float
    sandbox_id: str | None = None
    osiris: str | None = None  # preinstalled | installed
    create_ms: float | None = None
    probe_ms: float | None = None
    install_ms: float | None = None
    upload_ms: float | None = None
    run_ms: float | None = None
    download_ms: float | None = None
    uploaded: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    remote_status: Mapping[str, Any] | None = None
    remote_totals: Mapping[str, Any] | None = None  # metrics.json totals of the remote run

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": "e2b", "sandbox_id": self.sandbox_id, "template": self.template or "base",
            "timeout_s": self.timeout_s, "osiris": self.osiris,
            "timings_ms": {"create": self.create_ms, "probe": self.probe_ms, "install": self.install_ms, "upload": self.upload_ms,
                           "run": self.run_ms, "download": self.download_ms},
            "uploaded": self.uploaded, "downloaded": self.downloaded,
            "remote_status": None if self.remote_status is None else {
                k: self.remote_status.get(k) for k in ("status", "exit_code", "duration_ms", "failed_step")},
            "remote_totals": self.remote_totals,
        }


class SandboxFailed(Exception):
    """The sandbox part of a run failed: carries the error the run reports."""

    def __init__(self, error: StepError) -> None:
        super().__init__(error.message)
        self.error = error


class E2BEngine(LocalEngine):
    name = "e2b"

    # --- prepare: the local engine's, minus the drivers (they run in the sandbox) -----------------

    def prepare(self, pipeline: CompiledLike, options: RunOptions, observers: Any = ()) -> PreparedRun:
        prepared = super().prepare(pipeline, options, observers)
        for step in prepared.steps:
            prepared.live[step.id] = RemoteCounters()  # type: ignore[assignment]
        return prepared

    def _load_drivers(self, prepared: PreparedRun) -> None:
        return None

    def _resolve(self, prepared: PreparedRun, step: Any) -> dict[str, Any]:
        # Fail fast on an unset variable and teach the redactor the values; the sandbox emits the
        # run's connection_resolved events itself.
        target = prepared.targets[step.id]
        if target is None or prepared.resolver is None:
            return {}
        return prepared.resolver.resolve(target)

    # --- execute ------------------------------------------------------------------------------------

    def execute(self, prepared: PreparedRun) -> ExecResult:
        if prepared.error is not None:
            return ExecResult((), None)
        options = prepared.options
        box = SandboxRun(options.sandbox_template, options.sandbox_timeout or DEFAULT_TIMEOUT_S)
        prepared.engine_record = box
        layout = SandboxLayout.for_run(prepared.run_id)
        plan = plan_transfers(prepared.steps, Path(options.work_dir).absolute(), layout, Path.cwd())
        mapper = PathMapper({layout.work: str(Path(options.work_dir).absolute()),
                             layout.run_dir: str(prepared.run_dir), layout.root: str(prepared.run_dir)})
        stream = RemoteStream(prepared, mapper)
        if plan.unknown_reads:  # refused before a sandbox exists: nothing to create, upload or pay for
            return stream.failure(_unplannable_reads(plan))
        sandbox = None
        try:
            sandbox = self._create(prepared, box)
            deadline = time.monotonic() + box.timeout_s
            osiris_run = self._ensure_osiris(prepared, sandbox, box)
            self._upload(prepared, sandbox, box, plan)
            exit_code = self._run(prepared, sandbox, box, plan, osiris_run, stream, deadline)
            self._download(prepared, sandbox, box, plan, stream)
            return stream.result(exit_code)
        except SandboxFailed as failed:
            return stream.failure(failed.error)
        except KeyboardInterrupt:
            return stream.interrupted()
        finally:
            if sandbox is not None:
                self._kill(prepared, sandbox, box)

    def _create(self, prepared: PreparedRun, box: SandboxRun) -> Any:
        env = prepared.options.env
        started = time.perf_counter()  # includes importing the SDK: part of what creating costs
        from e2b import AuthenticationException

        kwargs: dict[str, Any] = {"timeout": int(box.timeout_s)}
        if box.template:
            kwargs["template"] = box.template
        try:
            from e2b import Sandbox

            sandbox = Sandbox.create(**kwargs)
        except AuthenticationException as exc:
            has_key = bool((env if env is not None else _os_environ()).get("E2B_API_KEY"))
            # (wording: a "key: VALUE" shape would be masked by the redactor)
            message = (f"e2b rejected the API key in E2B_API_KEY ({_one_line(exc)})" if has_key
                       else "E2B_API_KEY is not set, and the e2b engine needs an API key")
            raise SandboxFailed(StepError("e2b.auth", f"{message}; fix: {API_KEY_HOWTO}", int(ExitCode.CONFIG))) from None
        except Exception as exc:  # noqa: BLE001 - SDK exceptions and raw httpx transport errors alike
            raise SandboxFailed(StepError("e2b.sandbox-create-failed",
                                          f"could not create an e2b sandbox (template {box.template or 'base'}): "
                                          f"{type(exc).__name__}: {_one_line(exc)}")) from None
        box.sandbox_id = str(getattr(sandbox, "sandbox_id", None))
        box.create_ms = _ms_since(started)
        prepared.bus.emit("sandbox_created", sandbox_id=box.sandbox_id, template=box.template or "base",
                          timeout_s=box.timeout_s, duration_ms=box.create_ms)
        return sandbox

    def _ensure_osiris(self, prepared: PreparedRun, sandbox: Any, box: SandboxRun) -> str:
        """The `osiris-run` to call: the template's when it is this version, else a fresh install."""
        version = installed_version()
        probing = time.perf_counter()
        found = self._shell(sandbox, "osiris-run --version 2>/dev/null", PROBE_TIMEOUT_S, check=False)
        box.probe_ms = _ms_since(probing)
        remote_version = found.stdout.strip().rsplit(" ", 1)[-1] if found.exit_code == 0 else None
        if remote_version == version:
            box.osiris = "preinstalled"
            prepared.bus.emit("sandbox_osiris", version=version, source="preinstalled")
            return "osiris-run"
        started = time.perf_counter()
        prepared.bus.emit("sandbox_install_start", version=version, found=remote_version)
        wheel = cached_wheel(default_cache_dir(dict(prepared.options.env) if prepared.options.env is not None else None))
        remote_wheel = f"{WHEELS}/{wheel.name}"
        self._write(sandbox, [{"path": remote_wheel, "data": wheel.read_bytes()}])
        box.uploaded.append(remote_wheel)
        script = (f"python3 -m venv {VENV} && {VENV}/bin/python -m pip install --quiet --disable-pip-version-check "
                  f"--no-input {shlex.quote(remote_wheel)}")
        installed = self._shell(sandbox, script, INSTALL_TIMEOUT_S, check=False)
        if installed.exit_code != 0:
            tail = _tail(installed.stderr or installed.stdout)
            raise SandboxFailed(StepError("e2b.install-failed",
                                          f"installing Osiris {version} in the sandbox failed (exit {installed.exit_code}): {tail}"))
        box.osiris = "installed"
        box.install_ms = _ms_since(started)
        prepared.bus.emit("sandbox_install_end", version=version, duration_ms=box.install_ms)
        return f"{VENV}/bin/osiris-run"

    def _upload(self, prepared: PreparedRun, sandbox: Any, box: SandboxRun, plan: SandboxPlan) -> None:
        started = time.perf_counter()
        layout = plan.layout
        files = [{"path": f"{layout.compiled}/{name}", "data": data}
                 for name, data in prepared.compiled_files.items()]
        connections = prepared.options.connections_file
        if connections is not None and connections.is_file():
            files.append({"path": layout.connections, "data": connections.read_bytes()})
        seen: set[str] = set()
        for transfer in plan.reads:
            for local, remote in transfer.sources():
                if remote not in seen:
                    seen.add(remote)
                    files.append({"path": remote, "data": local.read_bytes()})
        self._write(sandbox, files)
        box.uploaded.extend(f["path"] for f in files)
        box.upload_ms = _ms_since(started)
        prepared.bus.emit("sandbox_upload", files=len(files), bytes=sum(len(f["data"]) for f in files),
                          duration_ms=box.upload_ms)

    def _secret_env(self, prepared: PreparedRun) -> dict[str, str]:
        """Exactly the variables the pipeline's connections reference, resolved here; nothing else."""
        if prepared.options.connections_file is None:
            return {}
        from osiris_runtime.oml.connections import load_connections
        from osiris_runtime.secrets import SecretSources

        connections = load_connections(prepared.options.connections_file)
        aliases = []
        for target in prepared.targets.values():
            alias = connections.get(target.family, target.alias) if target is not None else None
            if alias is not None:
                aliases.append(alias.fields)
        lookup = SecretSources(prepared.options.secrets_file, prepared.options.env).lookup()
        values = {name: lookup(name) for name in referenced_variables(aliases)}
        return {name: value for name, value in values.items() if value}

    def _run(self, prepared: PreparedRun, sandbox: Any, box: SandboxRun, plan: SandboxPlan, osiris_run: str,
             stream: "RemoteStream", deadline: float) -> int:
        layout = plan.layout
        args = [osiris_run, layout.compiled, "--work-dir", layout.work, "--out", layout.run_dir,
                "--max-parallel", str(prepared.options.max_parallel), "--json", "--stream-events"]
        if prepared.options.connections_file is not None and prepared.options.connections_file.is_file():
            args += ["--connections", layout.connections]
        work = shlex.quote(layout.work)
        command = f"mkdir -p {work} && cd {work} && exec " + " ".join(shlex.quote(a) for a in args)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SandboxFailed(StepError("e2b.timeout", f"the sandbox lifetime ({box.timeout_s:g} s) ran out "
                                          "before the pipeline started; raise --e2b-timeout"))
        started = time.perf_counter()
        try:
            handle = sandbox.commands.run(command, background=True, envs=self._secret_env(prepared), timeout=remaining)
        except Exception as exc:  # noqa: BLE001 - any SDK error: the sandbox cannot start the run
            raise SandboxFailed(StepError("e2b.sandbox-lost", f"the sandbox could not start the pipeline: "
                                          f"{type(exc).__name__}: {_one_line(exc)}")) from None
        outcome: dict[str, Any] = {}

        def wait() -> None:
            try:
                outcome["result"] = handle.wait(on_stdout=stream.stdout, on_stderr=stream.stderr)
            except BaseException as exc:  # noqa: BLE001 - reported on the main thread
                outcome["error"] = exc

        waiter = threading.Thread(target=wait, name="osiris-e2b-wait", daemon=True)
        waiter.start()
        try:
            while waiter.is_alive():  # the main thread stays interruptible (Ctrl-C) while the SDK blocks
                waiter.join(0.05)
                if prepared.cancel.is_set():
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            _quietly(handle.kill)
            waiter.join(5)
            raise
        finally:
            box.run_ms = _ms_since(started)
        stream.flush()
        error = outcome.get("error")
        if error is None:
            return int(outcome["result"].exit_code)
        from e2b import CommandExitException, TimeoutException

        if isinstance(error, CommandExitException):
            return int(error.exit_code)
        if isinstance(error, TimeoutException) and time.monotonic() >= deadline - 0.5:
            _quietly(handle.kill)
            raise SandboxFailed(stream.lost("e2b.timeout", f"the sandbox lifetime ({box.timeout_s:g} s) ran out"
                                            f"{stream.while_running()}; raise --e2b-timeout or OSIRIS_E2B_TIMEOUT"))
        raise SandboxFailed(stream.lost("e2b.sandbox-lost", f"the sandbox stopped answering{stream.while_running()} "
                                        f"({type(error).__name__}: {_one_line(error)})"))

    def _download(self, prepared: PreparedRun, sandbox: Any, box: SandboxRun, plan: SandboxPlan,
                  stream: "RemoteStream") -> None:
        from concurrent.futures import ThreadPoolExecutor

        from e2b import FileNotFoundException

        def read(remote: str) -> bytes | None:
            try:
                return bytes(sandbox.files.read(remote, format="bytes"))
            except FileNotFoundException:
                return None  # a step that failed or never ran: the local file stays as it was, as locally

        started = time.perf_counter()
        run_names = ("events.jsonl", "metrics.json", "status.json")
        remotes = [t.remote for t in plan.writes] + [f"{plan.layout.run_dir}/{name}" for name in run_names]
        with ThreadPoolExecutor(max_workers=4) as pool:  # one round trip each: overlap them
            contents = dict(zip(remotes, pool.map(read, remotes)))
        total = 0
        for transfer in plan.writes:
            data = contents[transfer.remote]
            if data is None:
                continue
            transfer.local.parent.mkdir(parents=True, exist_ok=True)
            tmp = transfer.local.with_name(f".{transfer.local.name}.e2b.tmp")
            tmp.write_bytes(data)
            tmp.replace(transfer.local)
            total += len(data)
            box.downloaded.append(str(transfer.local))
        run_files = {name: (contents[f"{plan.layout.run_dir}/{name}"] or b"").decode("utf-8", "replace")
                     for name in run_names}
        stream.merge_remote_events(run_files["events.jsonl"])
        box.remote_status = _json_or_none(run_files["status.json"])
        remote_metrics = _json_or_none(run_files["metrics.json"])
        box.remote_totals = remote_metrics.get("totals") if remote_metrics else None
        box.download_ms = _ms_since(started)
        prepared.bus.emit("sandbox_download", files=len(box.downloaded), bytes=total, duration_ms=box.download_ms)

    def _kill(self, prepared: PreparedRun, sandbox: Any, box: SandboxRun) -> None:
        killed = _quietly(sandbox.kill)
        prepared.bus.emit("sandbox_killed", sandbox_id=box.sandbox_id, ok=bool(killed))

    # --- sandbox calls --------------------------------------------------------------------------

    @staticmethod
    def _write(sandbox: Any, files: list[dict[str, Any]]) -> None:
        try:
            sandbox.files.write_files(files)
        except Exception as exc:  # noqa: BLE001 - any SDK error: the sandbox is unusable
            raise SandboxFailed(StepError("e2b.upload-failed", f"uploading to the sandbox failed: "
                                          f"{type(exc).__name__}: {_one_line(exc)}")) from None

    @staticmethod
    def _shell(sandbox: Any, command: str, timeout: float, check: bool = True) -> Any:
        from e2b import CommandExitException

        try:
            return sandbox.commands.run(command, timeout=timeout)
        except CommandExitException as exc:
            if check:
                raise SandboxFailed(StepError("e2b.command-failed", f"`{command}` failed in the sandbox "
                                              f"(exit {exc.exit_code}): {_tail(exc.stderr)}")) from None
            return exc
        except Exception as exc:  # noqa: BLE001
            raise SandboxFailed(StepError("e2b.sandbox-lost", f"the sandbox stopped answering: "
                                          f"{type(exc).__name__}: {_one_line(exc)}")) from None

    def _status_extra(self, prepared: PreparedRun, result: ExecResult) -> dict[str, Any]:
        box = prepared.engine_record
        return {"sandbox": box.to_json()} if isinstance(box, SandboxRun) else {}


def _unplannable_reads(plan: SandboxPlan) -> StepError:
    step, call = plan.unknown_reads[0]
    return StepError(
        "e2b.query-file-unknown",
        f"step `{step}`: the query reads a file named by an expression (`{call}`), which the e2b engine "
        "cannot know before the run, so it cannot upload it; fix: write the path as a literal "
        "(`read_csv('data/orders.csv')`), pass it as a `query_params` value (`read_csv($file)`), "
        "or run with --engine local",
        int(ExitCode.CONFIG),
    )


class RemoteStream:
    """The remote `osiris-run`'s stdout: event lines forwarded to the run's bus, then its summary."""

    def __init__(self, prepared: PreparedRun, mapper: PathMapper) -> None:
        self.prepared = prepared
        self.mapper = mapper
        self._buffer = ""
        self._stderr_buffer = ""
        self.forwarded = 0  # remote events forwarded (run_start/run_end excluded)
        self.summary: Mapping[str, Any] | None = None
        self.last: list[str] = []
        self.running: dict[str, None] = {}  # steps started and not ended, in start order
        self.ended: dict[str, StepOutcome] = {}
        self._lock = threading.Lock()

    # --- input ------------------------------------------------------------------------------------

    def stdout(self, chunk: str) -> None:
        with self._lock:
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._line(line)

    def stderr(self, chunk: str) -> None:
        with self._lock:
            self._stderr_buffer += chunk
            *lines, self._stderr_buffer = self._stderr_buffer.split("\n")
        for line in lines:
            if line.strip():
                log.warning("sandbox: %s", self.prepared.redactor.redact(self.mapper.to_local(line)))

    def flush(self) -> None:
        rest, self._buffer = self._buffer, ""
        if rest.strip():
            self._line(rest)

    def _line(self, line: str) -> None:
        line = line.strip()
        if not line.startswith("{"):
            if line:
                log.warning("sandbox: %s", self.prepared.redactor.redact(self.mapper.to_local(line)))
            return
        try:
            record = json.loads(line)
        except ValueError:
            return
        if not isinstance(record, dict):
            return
        if "event" in record:
            self.forward(record)
        else:
            self.summary = record  # the --json summary: the last line

    def forward(self, record: Mapping[str, Any]) -> None:
        event, step = str(record["event"]), record.get("step")
        if event in {"run_start", "run_end"}:
            return  # the local run has its own, with engine e2b and the local totals
        self.forwarded += 1
        fields = {k: v for k, v in self.mapper.to_local(dict(record)).items() if k not in {"ts", "run_id", "step", "event"}}
        self.last = (self.last + [f"{event}" + (f" {step}" if step else "")])[-LAST_EVENTS:]
        if step is not None:
            if event == "step_start":
                self.running[step] = None
            elif event in {"step_end", "step_failed", "step_cancelled"}:
                self.running.pop(step, None)
                self.ended[step] = _outcome_from_event(step, event, fields)
                counters = self.prepared.live.get(step)
                if counters is not None:
                    counters.rows_read = int(fields.get("rows_read") or 0)
                    counters.rows_written = int(fields.get("rows_written") or 0)
        self.prepared.bus.emit(event, step=step, **fields)

    def merge_remote_events(self, text: str) -> None:
        """Forward the events the live stream missed (the remote events.jsonl is the full record)."""
        remote = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") not in {None, "run_start", "run_end"}:
                remote.append(record)
        for record in remote[self.forwarded:]:
            self.forward(record)

    # --- results ----------------------------------------------------------------------------------

    def _running_in_plan_order(self) -> list[str]:
        """Steps started and not ended, upstream first. Streamed steps overlap, and their start events
        can come in either order: the most downstream running step is the one that failed."""
        return [step.id for step in self.prepared.steps if step.id in self.running]

    def while_running(self) -> str:
        running = [f"`{step}`" for step in self._running_in_plan_order()]
        where = (f" while step {running[-1]} was running" if len(running) == 1
                 else f" while steps {', '.join(running)} were running" if running else "")
        last = f" (last events: {', '.join(self.last)})" if self.last else " (no event received)"
        return where + last

    def result(self, exit_code: int) -> ExecResult:
        """The remote run's outcome, from its --json summary (or its events when it has none)."""
        summary = self.summary
        if summary is None or "steps" not in summary:
            error = StepError("e2b.no-summary", f"osiris-run in the sandbox exited {exit_code} without a summary"
                                                f"{self.while_running()}", int(ExitCode.RUN))
            return self.failure(error)
        steps = [_outcome_from_summary(self.mapper.to_local(dict(s))) for s in summary.get("steps", ())]
        failed_step = summary.get("failed_step")
        failed = next((o for o in steps if o.step == failed_step and o.status == "failed"), None)
        interrupted = int(summary.get("exit_code", 0)) == INTERRUPTED_EXIT
        error = None
        raw_error = summary.get("error")
        if failed is None and isinstance(raw_error, Mapping) and not interrupted:
            error = StepError(str(raw_error.get("code")), self.mapper.to_local(str(raw_error.get("message"))),
                              int(summary.get("exit_code") or ExitCode.RUN))
        return ExecResult(tuple(steps), failed, interrupted, error)

    def lost(self, code: str, message: str) -> StepError:
        return StepError(code, message, int(ExitCode.RUN))

    def failure(self, error: StepError) -> ExecResult:
        """Outcomes when the sandbox gave no summary: the running step failed with `error`, the rest cancelled."""
        if not self.ended and not self.running:
            self.prepared.bus.emit("run_error", phase="sandbox", error_code=error.code, error=error.message)
            if error.exit_code == int(ExitCode.CONFIG):
                return ExecResult((), None, False, error)
        failed_id = next(reversed(self._running_in_plan_order()), None)
        outcomes: list[StepOutcome] = []
        failed = None
        for step in self.prepared.steps:
            if step.id in self.ended:
                outcomes.append(self.ended[step.id])
                continue
            started = step.id in self.running
            if step.id == failed_id:
                failed = StepOutcome(step.id, "failed", True, 0.0, 0, 0, 0, 0, error)
                outcome = failed
                self.prepared.bus.emit("step_failed", step=step.id, status="failed", duration_ms=0.0, rows_read=0,
                                       rows_written=0, rows_in=0, rows_out=0, error_code=error.code, error=error.message)
            else:
                outcome = StepOutcome(step.id, "cancelled", started, 0.0, 0, 0, 0, 0)
                self.prepared.bus.emit("step_cancelled", step=step.id, status="cancelled", started=started,
                                       duration_ms=0.0, rows_read=0, rows_written=0, rows_in=0, rows_out=0)
            outcomes.append(outcome)
        return ExecResult(tuple(outcomes), failed, False, None if failed is not None else error)

    def interrupted(self) -> ExecResult:
        outcomes = []
        for step in self.prepared.steps:
            if step.id in self.ended:
                outcomes.append(self.ended[step.id])
                continue
            started = step.id in self.running
            self.prepared.bus.emit("step_cancelled", step=step.id, status="cancelled", started=started,
                                   duration_ms=0.0, rows_read=0, rows_written=0, rows_in=0, rows_out=0)
            outcomes.append(StepOutcome(step.id, "cancelled", started, 0.0, 0, 0, 0, 0))
        return ExecResult(tuple(outcomes), None, True)


_COUNTERS = ("duration_ms", "rows_read", "rows_written", "rows_in", "rows_out")


def _outcome_from_summary(step: Mapping[str, Any]) -> StepOutcome:
    raw_error = step.get("error")
    error = StepError(str(raw_error.get("code")), str(raw_error.get("message"))) if isinstance(raw_error, Mapping) else None
    return StepOutcome(
        step=str(step["step"]), status=str(step.get("status")), started=step.get("status") != "cancelled" or
        bool(step.get("duration_ms")), duration_ms=float(step.get("duration_ms") or 0.0),
        rows_read=int(step.get("rows_read") or 0), rows_written=int(step.get("rows_written") or 0),
        rows_in=int(step.get("rows_in") or 0), rows_out=int(step.get("rows_out") or 0), error=error,
        metrics=dict(step.get("metrics") or {}),
    )


def _outcome_from_event(step: str, event: str, fields: Mapping[str, Any]) -> StepOutcome:
    status = {"step_end": "ok", "step_failed": "failed"}.get(event, "cancelled")
    error = StepError(str(fields.get("error_code")), str(fields.get("error"))) if event == "step_failed" else None
    metrics = {k: v for k, v in fields.items() if k not in {*_COUNTERS, "status", "started", "error_code", "error"}}
    return StepOutcome(step, status, bool(fields.get("started", True)), float(fields.get("duration_ms") or 0.0),
                       int(fields.get("rows_read") or 0), int(fields.get("rows_written") or 0),
                       int(fields.get("rows_in") or 0), int(fields.get("rows_out") or 0), error, metrics)


def _os_environ() -> Mapping[str, str]:
    import os

    return os.environ


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _tail(text: str | None, lines: int = 5) -> str:
    kept = [line for line in (text or "").strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"


def _json_or_none(text: str) -> Mapping[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _quietly(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception:  # noqa: BLE001 - cleanup must never mask the run's own outcome
        return None

