"""The engine interface: prepare, execute, collect. The local engine implements it here; the e2b
engine (its own issue) implements the same three calls and produces the same run directory.

- `prepare` creates the run directory, writes manifest.yaml and cfg/, resolves connections (so a
  missing variable fails before any data moves) and loads the drivers. Problems are returned as a
  value (`PreparedRun.error`), so the run directory always records what happened.
- `execute` runs the steps and returns their outcomes.
- `collect` writes metrics.json and status.json and returns the summary the CLI prints.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from osiris_runtime.errors import ConfigError, ExitCode
from osiris_runtime.runner.events import Subscriber
from osiris_runtime.runner.scheduler import StepError, StepOutcome, counters


class CompiledLike(Protocol):
    """What an engine needs of a compiled pipeline (`osiris_runtime.compiler.CompiledPipeline`)."""

    @property
    def manifest(self) -> Mapping[str, Any]: ...

    @property
    def cfgs(self) -> Mapping[str, Mapping[str, Any]]: ...

    def files(self) -> dict[str, bytes]: ...


@dataclass(frozen=True)
class RunOptions:
    runs_root: Path = Path(".osiris/runs")
    run_dir: Path | None = None  # --out: use exactly this directory
    work_dir: Path = Path(".")  # relative file paths in step configs resolve here
    connections_file: Path | None = None
    secrets_file: Path | None = None
    env: Mapping[str, str] | None = None  # None: the live process environment
    max_parallel: int = 4
    channel_capacity: int = 4  # batches buffered between two steps
    sandbox_template: str | None = None  # e2b: the template (None: the SDK's default, `base`)
    sandbox_timeout: float | None = None  # e2b: the sandbox lifetime in seconds (None: 900)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    run_dir: Path
    pipeline: str
    engine: str
    status: str  # ok | failed
    exit_code: int
    duration_ms: float
    steps: tuple[StepOutcome, ...]
    error: StepError | None
    failed_step: str | None
    outputs: tuple[str, ...] = ()
    totals: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "pipeline": self.pipeline,
            "engine": self.engine,
            "status": self.status,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "failed_step": self.failed_step,
            "error": None if self.error is None else {"code": self.error.code, "message": self.error.message},
            "outputs": list(self.outputs),
            "totals": dict(self.totals),
            "steps": [step_json(o) for o in self.steps],
        }


def step_json(outcome: StepOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {"step": outcome.step, **counters(outcome)}
    if outcome.error is not None:
        out["error"] = {"code": outcome.error.code, "message": outcome.error.message}
    if outcome.metrics:
        out["metrics"] = dict(outcome.metrics)
    return out


class Engine(Protocol):
    name: str

    def prepare(self, pipeline: CompiledLike, options: RunOptions, observers: Sequence[Subscriber] = ()) -> Any: ...

    def execute(self, prepared: Any) -> Any: ...

    def collect(self, prepared: Any, result: Any) -> RunSummary: ...


def run_with(engine: Engine, pipeline: CompiledLike, options: RunOptions,
             observers: Sequence[Subscriber] = ()) -> RunSummary:
    """prepare -> execute -> collect; the summary carries the exit code, nothing is raised for a failed run."""
    prepared = engine.prepare(pipeline, options, observers)
    result = engine.execute(prepared)
    return engine.collect(prepared, result)


ENGINES = {"local": "osiris_runtime.runner.local:LocalEngine", "e2b": "osiris_runtime.runner.e2b:E2BEngine"}


def get_engine(name: str, registry: Any, redactor: Any = None) -> Engine:
    """The engine called `name`, built with the run's registry (secret maps, specs) and redactor."""
    target = ENGINES.get(name)
    if target is None:
        raise ConfigError(f"unknown engine {name!r}", code="run.unknown-engine", fix=f"use one of: {', '.join(ENGINES)}")
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ConfigError(f"the {name} engine is not available in this installation", code="run.engine-unavailable",
                              exit_code=ExitCode.CONFIG, fix="use --engine local") from None
        raise
    return getattr(module, attr)(registry, redactor)


def run_dir_name(started: datetime, run_id: str) -> str:
    return f"{started.strftime('%Y%m%dT%H%M%SZ')}_{run_id}"
