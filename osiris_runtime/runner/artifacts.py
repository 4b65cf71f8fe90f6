"""The run directory's files: manifest.yaml + cfg/ (as compiled), metrics.json, status.json.

Every engine writes the same files through these functions. What the run produces (metrics,
status) passes through the run's redactor; the compiled files are copied byte for byte: they hold
no secrets by construction (the compiler refuses inline secrets), and a redacted copy would be a
different pipeline (`WHERE key = 'b'` is not a password).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from osiris_runtime.atomic_files import write_atomically
from osiris_runtime.errors import ConfigError
from osiris_runtime.output_dir import check_output_dir
from osiris_runtime.runner.scheduler import StepError, StepOutcome, counters
from osiris_runtime.secrets import Redactor


def make_run_dir(run_dir: Path) -> None:
    """Create the run directory; `ConfigError` (exit 5) when `--out` cannot be one (a file, a device,
    a folder holding links or files no run wrote)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"cannot use {run_dir} as the run directory: it exists and is not a directory",
                          code="run.out-dir-unusable", fix="pass --out a new or empty directory")
    check_output_dir(run_dir, what="run directory")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot use {run_dir} as the run directory: {exc.strerror or exc}", code="run.out-dir-unusable",
                          fix="pass --out a new or empty directory") from None


def write_bytes(path: Path, data: bytes) -> None:
    """Write atomically (a reader never sees half a file); the folder must exist."""
    write_atomically(path, data)


def write_text(path: Path, text: str, redactor: Redactor) -> None:
    """Write redacted text atomically."""
    write_bytes(path, redactor.redact(text).encode("utf-8"))


def write_json(path: Path, data: Mapping[str, Any], redactor: Redactor) -> None:
    text = json.dumps(redactor.redact(dict(data)), indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    write_text(path, text, redactor)


def write_compiled_files(run_dir: Path, files: Mapping[str, bytes]) -> None:
    for folder in {(run_dir / relative).parent for relative in files}:
        folder.mkdir(parents=True, exist_ok=True)
    for relative, content in files.items():
        write_bytes(run_dir / relative, content)
    for stale in (run_dir / "cfg").glob("*.json") if (run_dir / "cfg").is_dir() else ():
        if f"cfg/{stale.name}" not in files:  # `--out` reused: keep only this run's cfgs
            stale.unlink()


def totals_of(outcomes: Sequence[StepOutcome], sources: set[str]) -> dict[str, Any]:
    """Rows read by the source steps, rows written by all steps: never read + written added up."""
    return {
        "steps": len(outcomes),
        "steps_ok": sum(o.status == "ok" for o in outcomes),
        "steps_failed": sum(o.status == "failed" for o in outcomes),
        "steps_cancelled": sum(o.status == "cancelled" for o in outcomes),
        "rows_read": sum(o.rows_read for o in outcomes if o.step in sources),
        "rows_written": sum(o.rows_written for o in outcomes),
    }


def metrics_document(run_id: str, pipeline: str, duration_ms: float, outcomes: Sequence[StepOutcome],
                     totals: Mapping[str, Any]) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for o in outcomes:
        steps[o.step] = {
            **counters(o),
            "rows_per_second": round(max(o.rows_read, o.rows_written, o.rows_out) / (o.duration_ms / 1000), 1)
            if o.duration_ms > 0 else None,
            **{k: v for k, v in o.metrics.items() if k not in {"status", "duration_ms"}},
        }
    return {"run_id": run_id, "pipeline": pipeline, "duration_ms": duration_ms, "steps": steps,
            "totals": {**totals, "duration_ms": duration_ms}}


def status_document(*, run_id: str, pipeline: str, engine: str, status: str, exit_code: int, started_at: str,
                    finished_at: str, duration_ms: float, outcomes: Sequence[StepOutcome],
                    failed_step: str | None, error: StepError | None) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "pipeline": pipeline,
        "engine": engine,
        "status": status,
        "ok": status == "ok",
        "exit_code": exit_code,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_ms": duration_ms,
        "steps_total": len(outcomes),
        "steps_completed": sum(o.status == "ok" for o in outcomes),
        "failed_step": failed_step,
        "error": None if error is None else {"code": error.code, "message": error.message},
    }
