"""Preview a step's data: run the pipeline up to that step on a few rows, never writing anything.

The steps the chosen one depends on run in plan order, each through its own driver, with the row
limit pushed down to the extractors (`limit` in their config: a SQL `LIMIT`, a REST page size;
`batch_size` for files, so only the first lines are read). Transforms run over those first rows
of their inputs, and every stream is cut at the limit. Writers never run: previewing a writer
shows the rows it would receive. Memory stays bounded by `limit` rows per step.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from osiris_runtime.errors import ConfigError, OsirisError, RunFailed
from osiris_runtime.runner.batches import Batch, Column

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
# Steps feeding a transform read more than `limit` rows (a filter over 5 rows is usually empty),
# still bounded: `limit` x SAMPLE_FACTOR, at most MAX_SAMPLE rows per input.
SAMPLE_FACTOR = 100
MAX_SAMPLE = 100_000


@dataclass(frozen=True)
class Preview:
    step: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    limit: int
    ran: tuple[str, ...]  # the steps that ran, in order
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        from osiris_runtime.drivers.sql_types import describe_columns

        return {"step": self.step, "limit": self.limit, "ran": list(self.ran), "note": self.note,
                "columns": describe_columns(self.columns), "rows": [[_jsonable(v) for v in r] for r in self.rows],
                "row_count": len(self.rows)}


def with_pushed_down_limit(component_mode: str, config: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """An extractor's config reading at most `limit` rows (its own smaller limit is kept)."""
    out = dict(config)
    if component_mode != "extract":
        return out
    current = out.get("limit")
    out["limit"] = min(current, limit) if isinstance(current, int) and not isinstance(current, bool) else limit
    batch = out.get("batch_size")
    out["batch_size"] = min(batch, max(limit, 1)) if isinstance(batch, int) and not isinstance(batch, bool) else max(limit, 1)
    return out


def preview_step(pipeline: Any, step_id: str, *, limit: int = DEFAULT_LIMIT, work_dir: Path,
                 resolve_connection: Callable[[Any], dict[str, Any]],
                 cancel: threading.Event | None = None, registry: Any = None) -> Preview:
    """The first `limit` rows step `step_id` produces (for a writer: receives).

    `pipeline` is a compiled pipeline; `resolve_connection(step_plan)` returns a step's resolved
    connection (secrets included, for its driver only).
    """
    from osiris_runtime.drivers.base import StepContext
    from osiris_runtime.runner.local import load_driver
    from osiris_runtime.runner.plan import steps_from_manifest

    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"--limit must be between 1 and {MAX_LIMIT}", code="preview.invalid-limit")
    steps = steps_from_manifest(pipeline.manifest, pipeline.cfgs)
    by_id = {s.id: s for s in steps}
    if step_id not in by_id:
        raise ConfigError(f"no step `{step_id}` (steps: {', '.join(by_id)})", code="preview.unknown-step")
    target = by_id[step_id]
    needed = _ancestors(target.id, by_id)
    cancel = cancel or threading.Event()
    sample = max(limit, min(limit * SAMPLE_FACTOR, MAX_SAMPLE))
    outputs: dict[str, list[Batch]] = {}
    ran: list[str] = []
    for step in steps:
        if step.id not in needed or not step.produces_stream:
            continue
        cap = limit if step.id == target.id or not target.produces_stream and target.id in _consumers(step.id, by_id) \
            else sample
        config = with_pushed_down_limit(step.mode, step.config, cap)
        ctx = StepContext(step_id=step.id, component=step.component, mode=step.mode, config=config,
                          resolve_connection=lambda step=step: resolve_connection(step), cancel_event=cancel,
                          work_dir=str(work_dir))
        driver = load_driver(step, registry)(ctx)
        inputs = {n: iter(outputs[n]) for n in step.needs if n in outputs}
        try:
            stream = driver.run(inputs)
            outputs[step.id] = _first_rows(stream, cap) if stream is not None else []
        except OsirisError:
            raise
        except Exception as exc:  # noqa: BLE001 - a driver bug is a failed preview, not a traceback
            raise RunFailed(f"step {step.id}: {type(exc).__name__}: {exc}", code="run.step-failed") from None
        ran.append(step.id)
    if target.produces_stream:
        batches, note = outputs.get(target.id, []), ""
    else:
        inputs = [n for n in target.needs if n in outputs]
        batches = outputs.get(inputs[0], []) if inputs else []
        note = f"`{target.id}` writes; these are the rows it would receive from `{inputs[0]}`" if inputs else ""
    if any(by_id[s].mode == "transform" for s in ran):
        note = (note + "; " if note else "") + f"transforms ran over the first {sample} rows of each input"
    columns = batches[0].schema.columns if batches else ()
    rows = tuple(itertools.islice((tuple(r) for b in batches for r in b.rows), limit))
    return Preview(target.id, tuple(columns), rows, limit, tuple(ran), note)


def _consumers(step_id: str, by_id: Mapping[str, Any]) -> set[str]:
    return {s.id for s in by_id.values() if step_id in s.needs}


def _ancestors(step_id: str, by_id: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    stack = [step_id]
    while stack:
        current = stack.pop()
        if current in seen or current not in by_id:
            continue
        seen.add(current)
        stack.extend(by_id[current].needs)
    return seen


def _first_rows(stream: Iterator[Batch], limit: int) -> list[Batch]:
    """Batches up to `limit` rows (the last one cut); the stream is closed after, ending its query."""
    out: list[Batch] = []
    count = 0
    try:
        for batch in stream:
            rows = list(batch.rows)
            if count + len(rows) > limit:
                rows = rows[:limit - count]
            out.append(Batch(batch.schema, rows))
            count += len(rows)
            if count >= limit:
                break
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return out


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    return str(value)


def render_rows(preview: Preview, max_width: int = 40) -> Sequence[Sequence[str]]:
    """Cells as text for a terminal or Markdown table (long values shortened)."""
    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(_jsonable(value))
        return text if len(text) <= max_width else text[:max_width - 1] + "…"

    return [[cell(v) for v in row] for row in preview.rows]


