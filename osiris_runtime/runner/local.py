"""The local engine: runs a compiled pipeline in this process, on threads."""

from __future__ import annotations

import dataclasses
import importlib
import secrets as _random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.errors import ExitCode, OsirisError
from osiris_runtime.runner import artifacts
from osiris_runtime.runner.engine import CompiledLike, RunOptions, RunSummary, run_dir_name
from osiris_runtime.runner.events import EventBus, JsonlEventWriter, Subscriber, utc_timestamp
from osiris_runtime.runner.plan import StepPlan, data_inputs, steps_from_manifest
from osiris_runtime.runner.scheduler import Scheduler, StepError, StepOutcome
from osiris_runtime.secrets import ConnectionResolver, ConnectionTarget, Redactor, SecretSources, parse_target


@dataclass
class PreparedRun:
    run_id: str
    run_dir: Path
    pipeline: str
    options: RunOptions
    bus: EventBus
    redactor: Redactor
    events: JsonlEventWriter
    started_at: datetime
    started_clock: float
    steps: tuple[StepPlan, ...] = ()
    drivers: dict[str, type] = field(default_factory=dict)
    targets: dict[str, ConnectionTarget | None] = field(default_factory=dict)
    resolver: ConnectionResolver | None = None
    error: StepError | None = None  # set when preparation failed: nothing will run
    cancel: threading.Event = field(default_factory=threading.Event)  # set it to stop the run (Ctrl-C)
    live: dict[str, StepContext] = field(default_factory=dict)  # step contexts while running (progress)
    compiled_files: dict[str, bytes] = field(default_factory=dict)  # manifest.yaml + cfg/, as compiled
    engine_record: Any = None  # what an engine keeps about its run (e2b: the sandbox), for status.json


@dataclass(frozen=True)
class ExecResult:
    outcomes: tuple[StepOutcome, ...]
    failed: StepOutcome | None
    interrupted: bool = False
    error: StepError | None = None  # a failure of the engine itself (no step to blame), e.g. a lost sandbox


INTERRUPTED_EXIT = 130  # the shell's convention for SIGINT, as the CLI uses elsewhere


def new_run_id() -> str:
    return _random.token_hex(6)


class LocalEngine:
    name = "local"

    def __init__(self, registry: Any = None, redactor: Redactor | None = None) -> None:
        self.registry = registry
        self._redactor = redactor  # shared with the caller's log handlers; one per run otherwise

    # --- prepare ---------------------------------------------------------------------------------

    def prepare(self, pipeline: CompiledLike, options: RunOptions, observers: Sequence[Subscriber] = ()) -> PreparedRun:
        started_at = datetime.now(timezone.utc)
        run_id = new_run_id()
        run_dir = (options.run_dir or options.runs_root / run_dir_name(started_at, run_id)).absolute()
        artifacts.make_run_dir(run_dir)
        redactor = self._redactor or Redactor()
        redactor.add_keys(self._all_secret_keys())
        bus = EventBus(run_id, redactor)
        events = JsonlEventWriter(run_dir / "events.jsonl")
        bus.subscribe(events)
        for observer in observers:
            bus.subscribe(observer)
        name = str(pipeline.manifest.get("name") or "pipeline")
        prepared = PreparedRun(run_id, run_dir, name, options, bus, redactor, events, started_at, time.perf_counter())
        bus.emit("run_start", pipeline=name, engine=self.name, max_parallel=options.max_parallel,
                 manifest_fingerprint=(pipeline.manifest.get("fingerprints") or {}).get("manifest"))
        try:
            prepared.steps = steps_from_manifest(pipeline.manifest, pipeline.cfgs)
            prepared.resolver = self.connection_resolver(options, redactor)
            for step in prepared.steps:
                prepared.targets[step.id] = self.step_target(step)
                if prepared.targets[step.id] is not None:
                    self._resolve(prepared, step)  # fail fast: an unset variable stops the run before any data moves
            prepared.compiled_files = pipeline.files()
            artifacts.write_compiled_files(run_dir, prepared.compiled_files)
            self._load_drivers(prepared)
        except OsirisError as exc:
            prepared.error = StepError(exc.code, exc.message, int(exc.exit_code))
            bus.emit("run_error", phase="prepare", error_code=exc.code, error=exc.message)
        except OSError as exc:  # the run directory exists: say what failed there, exit 4, status.json follows
            prepared.error = StepError("run.io-error", f"cannot write the run directory: {exc.strerror or exc}",
                                       int(ExitCode.RUN))
            bus.emit("run_error", phase="prepare", error_code="run.io-error", error=prepared.error.message)
        return prepared

    def _load_drivers(self, prepared: PreparedRun) -> None:
        for step in prepared.steps:
            prepared.drivers[step.id] = load_driver(step, self.registry)

    def _all_secret_keys(self) -> set[str]:
        if self.registry is None:
            return set()
        keys: set[str] = set()
        for spec in self.registry.specs():
            keys |= set(self.registry.get_secret_map(spec.name).secret_keys)
        return keys

    def connection_resolver(self, options: RunOptions, redactor: Redactor) -> ConnectionResolver:
        """Resolves aliases as a run does: the connections file, then the secrets file and environment."""
        from osiris_runtime.secrets import secret_keys_from_registry

        keys_for = secret_keys_from_registry(self.registry) if self.registry is not None else (lambda family: ())
        return ConnectionResolver(options.connections_file, SecretSources(options.secrets_file, options.env), redactor,
                                  keys_for)

    def step_target(self, step: StepPlan) -> ConnectionTarget | None:
        """Explicit `@family.alias`, the family default for components that take a connection, or none."""
        if step.connection:
            return parse_target(step.connection, step.family)
        from osiris_runtime.oml.connections import takes_connection

        spec = self.registry.get(step.component) if self.registry is not None else None
        if spec is not None and takes_connection(spec):
            return ConnectionTarget(step.family, None)
        return None

    def _resolve(self, prepared: PreparedRun, step: StepPlan) -> dict[str, Any]:
        target = prepared.targets[step.id]
        if target is None or prepared.resolver is None:
            return {}
        chosen, resolved = prepared.resolver.resolve_alias(target)
        spec = self.registry.get(step.component) if self.registry is not None else None
        if spec is not None:
            from osiris_runtime.oml.connections import with_step_overrides

            overridden = sorted(k for k in spec.connection_fields if step.config.get(k) is not None)
            resolved = with_step_overrides(resolved, step.config, spec)
        else:
            overridden = []
        prepared.bus.emit("connection_resolved", step=step.id, family=target.family, alias=chosen.name,
                          default=chosen.is_default, fields=sorted(resolved), overridden=overridden)
        return resolved

    # --- execute ---------------------------------------------------------------------------------

    def execute(self, prepared: PreparedRun) -> ExecResult:
        if prepared.error is not None:
            return ExecResult((), None)

        def make_context(step: StepPlan, cancel: threading.Event) -> StepContext:
            def emit(event: str, **fields: Any) -> None:
                fields.pop("step", None)
                prepared.bus.emit(event, step=step.id, **fields)

            return StepContext(
                step_id=step.id,
                component=step.component,
                mode=step.mode,
                config=step.config,
                resolve_connection=lambda: self._resolve(prepared, step),
                emit=emit,
                cancel_event=cancel,
                work_dir=str(prepared.options.work_dir),
            )

        scheduler = Scheduler(
            prepared.steps,
            drivers=prepared.drivers,
            make_context=make_context,
            bus=prepared.bus,
            max_parallel=prepared.options.max_parallel,
            cancel=prepared.cancel,
            channel_capacity=prepared.options.channel_capacity,
            contexts=prepared.live,
        )
        outcomes = scheduler.run()
        return ExecResult(outcomes, scheduler.first_failure, scheduler.interrupted)

    # --- collect ---------------------------------------------------------------------------------

    def collect(self, prepared: PreparedRun, result: ExecResult) -> RunSummary:
        duration_ms = round((time.perf_counter() - prepared.started_clock) * 1000, 3)
        error = prepared.error or (result.failed.error if result.failed else None) or result.error
        if error is None and result.interrupted:
            error = StepError("run.interrupted", "interrupted (Ctrl-C): running steps were cancelled", INTERRUPTED_EXIT)
        if error is None and any(o.status != "ok" for o in result.outcomes):
            error = StepError("run.cancelled", "the run was cancelled")
        exit_code = int(ExitCode.OK) if error is None else error.exit_code
        status = "ok" if error is None else "failed"
        failed_step = result.failed.step if result.failed else None
        by_id = {s.id: s for s in prepared.steps}
        sources = {s.id for s in prepared.steps if not data_inputs(s, by_id)}
        totals = artifacts.totals_of(result.outcomes, sources)
        outputs = tuple(str(o.metrics["output"]) for o in result.outcomes if o.metrics.get("output"))
        prepared.bus.emit("run_end", status=status, exit_code=exit_code, duration_ms=duration_ms,
                          failed_step=failed_step, rows_read=totals["rows_read"], rows_written=totals["rows_written"])
        prepared.events.close()
        try:
            artifacts.write_json(prepared.run_dir / "metrics.json",
                                 artifacts.metrics_document(prepared.run_id, prepared.pipeline, duration_ms, result.outcomes,
                                                            totals), prepared.redactor)
            artifacts.write_json(
                prepared.run_dir / "status.json",
                artifacts.status_document(
                    run_id=prepared.run_id, pipeline=prepared.pipeline, engine=self.name, status=status,
                    exit_code=exit_code, started_at=utc_timestamp(prepared.started_at), finished_at=utc_timestamp(),
                    duration_ms=duration_ms, outcomes=result.outcomes, failed_step=failed_step, error=error,
                ) | self._status_extra(prepared, result),
                prepared.redactor,
            )
        except OSError as exc:  # the summary still reports, with a documented code
            error = error or StepError("run.io-error", f"cannot write the run directory: {exc.strerror or exc}",
                                       int(ExitCode.RUN))
            status, exit_code = "failed", error.exit_code
        redact = prepared.redactor.redact
        return RunSummary(
            run_id=prepared.run_id, run_dir=prepared.run_dir, pipeline=prepared.pipeline, engine=self.name,
            status=status, exit_code=exit_code, duration_ms=duration_ms,
            steps=tuple(redacted_outcome(o, prepared.redactor) for o in result.outcomes),
            error=None if error is None else StepError(error.code, redact(error.message), error.exit_code),
            failed_step=failed_step, outputs=tuple(prepared.redactor.redact(list(outputs))), totals=totals,
        )


    def _status_extra(self, prepared: PreparedRun, result: ExecResult) -> dict[str, Any]:
        """What an engine adds to status.json (the e2b engine: the sandbox)."""
        return {}


def redacted_outcome(outcome: StepOutcome, redactor: Redactor) -> StepOutcome:
    """The outcome as it may leave the process: error message and driver metrics redacted."""
    error = outcome.error
    if error is not None:
        error = StepError(error.code, redactor.redact(error.message), error.exit_code)
    return dataclasses.replace(outcome, error=error, metrics=redactor.redact(dict(outcome.metrics)))


def load_driver(step: StepPlan, registry: Any = None) -> type:
    """The driver class named by the step's `driver` dotted path (from the component's spec).

    A compiled manifest is input too: with a registry, only the driver the registry's spec of the
    step's component names may be imported, never a path written into the manifest by hand.
    """
    if registry is not None:
        spec = registry.get(step.component)
        if spec is None or spec.driver != step.driver:
            named = f"names {spec.driver}" if spec is not None and spec.driver else "names no driver"
            raise OsirisError(
                f"step `{step.id}`: the manifest's driver {step.driver!r} is not the one the registry's "
                f"`{step.component}` spec {named if spec is not None else 'knows (unknown component)'}; nothing was imported",
                code="run.driver-not-allowed", exit_code=ExitCode.RUN,
                fix="compile the pipeline again with the components installed here")
    if not step.driver:
        raise OsirisError(f"component `{step.component}` (step `{step.id}`) has no runtime driver",
                          code="run.no-driver", exit_code=ExitCode.RUN,
                          fix="the component's spec needs x-runtime.driver")
    module_name, _, class_name = step.driver.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        driver = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise OsirisError(f"cannot load driver {step.driver} for step `{step.id}`: {exc}", code="run.driver-not-found",
                          exit_code=ExitCode.RUN) from None
    if not isinstance(driver, type):
        raise OsirisError(f"{step.driver} is not a class", code="run.driver-not-found", exit_code=ExitCode.RUN)
    return driver
