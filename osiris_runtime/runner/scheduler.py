"""The scheduler: runs a plan's steps on threads, streams batches between them, stops on failure.

Each step runs on its own thread; a flow (steps joined by streams, see `plan`) starts all its
steps together, and at most `max_parallel` flows run at once. A producer's iterator is read once
by its own thread and each batch is put into one channel per consumer (the fan-out tee). The first
failure sets the run's cancel event: every channel wait and every `ctx.cancelled` check sees it,
steps end as `cancelled`, flows not yet started never start.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.errors import ExitCode, OsirisError
from osiris_runtime.runner.batches import Batch
from osiris_runtime.runner.channels import Channel, RunCancelled
from osiris_runtime.runner.events import EventBus
from osiris_runtime.runner.plan import StepPlan, consumers_of, control_inputs, needs_spill, plan_flows

_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class StepError:
    code: str
    message: str
    exit_code: int = int(ExitCode.RUN)


@dataclass(frozen=True)
class StepOutcome:
    step: str
    status: str  # ok | failed | cancelled
    started: bool
    duration_ms: float
    rows_read: int
    rows_written: int
    rows_in: int  # rows the runner delivered to the step
    rows_out: int  # rows the step yielded
    error: StepError | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)


ContextFactory = Callable[[StepPlan, threading.Event], StepContext]


class Scheduler:
    """One run of one plan; `run()` may be called once."""

    def __init__(
        self,
        steps: Sequence[StepPlan],
        *,
        drivers: Mapping[str, type],
        make_context: ContextFactory,
        bus: EventBus,
        max_parallel: int = 4,
        cancel: threading.Event | None = None,
        channel_capacity: int = 4,
        contexts: dict[str, StepContext] | None = None,
    ) -> None:
        self.steps = tuple(steps)
        self._by_id = {s.id: s for s in self.steps}
        self._drivers = drivers
        self._make_context = make_context
        self._bus = bus
        self._max_parallel = max(1, max_parallel)
        self.cancel = cancel or threading.Event()
        self._done = {s.id: threading.Event() for s in self.steps}
        self._outcomes: dict[str, StepOutcome] = {}
        self._lock = threading.Lock()
        self.first_failure: StepOutcome | None = None
        self.interrupted = False
        self.contexts: dict[str, StepContext] = {} if contexts is None else contexts  # live counters (progress)
        self._outputs: dict[str, list[Channel]] = {s.id: [] for s in self.steps}
        self._inputs: dict[str, dict[str, Channel]] = {s.id: {} for s in self.steps}
        consumers = consumers_of(self.steps)
        self._consumers = consumers
        for upstream, readers in consumers.items():
            for reader in readers:
                channel = Channel(self.cancel, channel_capacity, spill=needs_spill(self._by_id[reader]))
                self._outputs[upstream].append(channel)
                self._inputs[reader][upstream] = channel

    # --- flows -------------------------------------------------------------------------------------

    def run(self) -> tuple[StepOutcome, ...]:
        flows = plan_flows(self.steps)
        finished: set[int] = set()
        running: dict[int, threading.Thread] = {}
        pending = list(range(len(flows)))
        wake = threading.Condition()

        def run_flow(index: int) -> None:
            threads = [
                threading.Thread(target=self._run_step, args=(self._by_id[sid],), name=f"osiris-step-{sid}", daemon=True)
                for sid in flows[index].steps
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            with wake:
                finished.add(index)
                running.pop(index, None)
                wake.notify_all()

        def loop() -> None:
            with wake:
                while pending or running:
                    if self.cancel.is_set():
                        pending.clear()
                    ready = [i for i in pending if flows[i].after <= finished]
                    for index in ready[: self._max_parallel - len(running)]:
                        pending.remove(index)
                        thread = threading.Thread(target=run_flow, args=(index,), name=f"osiris-flow-{index}", daemon=True)
                        running[index] = thread
                        thread.start()
                    if pending or running:
                        wake.wait(_POLL_SECONDS)

        try:
            loop()
        except KeyboardInterrupt:
            # Ctrl-C: cancel like a failure would, then let the running steps stop cleanly.
            self.interrupted = True
            self.cancel.set()
            loop()
        for step in self.steps:
            if step.id not in self._outcomes:
                self._record(self._not_started(step))
        return tuple(self._outcomes[s.id] for s in self.steps)

    # --- one step ----------------------------------------------------------------------------------

    def _run_step(self, step: StepPlan) -> None:
        outputs = self._outputs[step.id]
        inputs = self._inputs[step.id]
        ctx: StepContext | None = None
        started = time.perf_counter()
        rows_out = 0
        status, error = "ok", None
        produced: Iterator[Batch] | None = None
        try:
            self._wait_for_writers(step)
            ctx = self._make_context(step, self.cancel)
            ctx.consumers_accept = self._accepted_by_consumers(step)
            self.contexts[step.id] = ctx
            self._bus.emit("step_start", step=step.id, component=step.component, mode=step.mode,
                           needs=list(step.needs))
            started = time.perf_counter()
            driver = self._drivers[step.id](ctx)
            produced = driver.run({upstream: iter(channel) for upstream, channel in inputs.items()})
            if produced is not None:
                for batch in produced:
                    if self.cancel.is_set():
                        raise RunCancelled()
                    rows_out += len(batch)
                    for channel in outputs:
                        channel.put(batch)
            if self.cancel.is_set():
                raise RunCancelled()  # the driver returned early because the run is being cancelled
        except RunCancelled:
            status = "cancelled"
        except BaseException as exc:  # noqa: BLE001 - a driver may raise anything; the run must end cleanly
            status, error = self._fail(exc)
        finally:
            if produced is not None and hasattr(produced, "close"):
                try:
                    produced.close()  # type: ignore[union-attr]
                except BaseException:  # noqa: BLE001 - closing after a failure must not mask it
                    pass
            for channel in outputs:
                channel.close()
            for channel in inputs.values():
                channel.abandon()
        outcome = self._outcome(step, ctx, status, error, started, rows_out, inputs)
        self._finish(step, outcome)

    def _accepted_by_consumers(self, step: StepPlan) -> frozenset[str]:
        """The batch forms (a driver class's `accepts`) that every consumer of the step's stream takes."""
        readers = self._consumers.get(step.id, ())
        forms = [frozenset(getattr(self._drivers[r], "accepts", ())) for r in readers if r in self._drivers]
        return frozenset.intersection(*forms) if forms and len(forms) == len(readers) else frozenset()

    def _wait_for_writers(self, step: StepPlan) -> None:
        for upstream in control_inputs(step, self._by_id):
            while not self._done[upstream].wait(_POLL_SECONDS):
                if self.cancel.is_set():
                    raise RunCancelled()
            if self._outcomes[upstream].status != "ok":
                raise RunCancelled()
        if self.cancel.is_set():
            raise RunCancelled()

    def _fail(self, exc: BaseException) -> tuple[str, StepError | None]:
        with self._lock:
            if self.cancel.is_set():
                # A consequence of another step's failure (a closed stream, a dropped connection).
                return "cancelled", None
            self.cancel.set()
        redact = self._bus.redactor.redact  # database errors echo DSNs: never keep the raw text
        if isinstance(exc, OsirisError):
            error = StepError(exc.code, redact(exc.message), int(exc.exit_code))
        else:
            error = StepError("run.step-failed", redact(f"{type(exc).__name__}: {exc}"))
        return "failed", error

    def _outcome(self, step: StepPlan, ctx: StepContext | None, status: str, error: StepError | None,
                 started: float, rows_out: int, inputs: Mapping[str, Channel]) -> StepOutcome:
        if ctx is None:
            return self._not_started(step, status, error)
        rows_read = ctx.rows_read
        if rows_read == 0 and not inputs and step.produces_stream:
            rows_read = rows_out  # an extractor that did not count: what it yielded is what it read
        return StepOutcome(
            step=step.id,
            status=status,
            started=True,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            rows_read=rows_read,
            rows_written=ctx.rows_written,
            rows_in=sum(c.rows for c in inputs.values()),
            rows_out=rows_out,
            error=error,
            metrics=dict(ctx.extra_metrics),
        )

    def _not_started(self, step: StepPlan, status: str = "cancelled", error: StepError | None = None) -> StepOutcome:
        return StepOutcome(step.id, status, False, 0.0, 0, 0, 0, 0, error)

    def _finish(self, step: StepPlan, outcome: StepOutcome) -> None:
        self._record(outcome)
        self._done[step.id].set()

    def _record(self, outcome: StepOutcome) -> None:
        with self._lock:
            if outcome.step in self._outcomes:
                return
            self._outcomes[outcome.step] = outcome
            if outcome.status == "failed" and self.first_failure is None:
                self.first_failure = outcome
        fields = counters(outcome)
        if outcome.status == "ok":
            self._bus.emit("step_end", step=outcome.step, **fields, **_safe_metrics(outcome.metrics))
        elif outcome.status == "failed":
            assert outcome.error is not None
            self._bus.emit("step_failed", step=outcome.step, **fields, error_code=outcome.error.code,
                           error=outcome.error.message)
        else:
            self._bus.emit("step_cancelled", step=outcome.step, started=outcome.started, **fields)


def counters(outcome: StepOutcome) -> dict[str, Any]:
    """The standard fields of a step's outcome, as events, metrics.json and --json show them."""
    return {
        "status": outcome.status,
        "duration_ms": outcome.duration_ms,
        "rows_read": outcome.rows_read,
        "rows_written": outcome.rows_written,
        "rows_in": outcome.rows_in,
        "rows_out": outcome.rows_out,
    }


def _safe_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Driver metrics may not shadow the standard fields of a step_end event."""
    reserved = {"ts", "run_id", "step", "event", "status", "duration_ms", "rows_read", "rows_written", "rows_in", "rows_out"}
    return {k: v for k, v in metrics.items() if k not in reserved}
