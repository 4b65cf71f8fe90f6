"""What a person sees while a run goes: plain log lines (headless, not a TTY) or a Rich live
table (a TTY), then a summary. Both are bus subscribers, so they only ever see redacted records.
"""

from __future__ import annotations

import threading
import time
from typing import IO, Any, Mapping

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.runner.engine import RunSummary
from osiris_runtime.runner.events import EventRecord


class PlainLog:
    """One line per run/step event on a stream (stderr): what CI logs and editors show."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, record: EventRecord) -> None:
        line = self._line(record)
        if line:
            print(f"[osiris] {line}", file=self.stream, flush=True)

    @staticmethod
    def _line(r: EventRecord) -> str | None:
        event, step = r["event"], r.get("step")
        if event == "run_start":
            return f"run {r['run_id']} started: {r.get('pipeline')} (engine {r.get('engine')})"
        if event == "step_start":
            return f"{step}: started ({r.get('component')})"
        if event == "step_end":
            return f"{step}: ok, {_rows(r)} in {r['duration_ms']:.0f} ms"
        if event == "step_failed":
            return f"{step}: FAILED [{r.get('error_code')}] {r.get('error')}"
        if event == "step_cancelled" and r.get("started"):
            return f"{step}: cancelled"
        if event.startswith("sandbox_"):
            return sandbox_line(r)
        if event == "run_error":
            return f"run failed before any step started [{r.get('error_code')}] {r.get('error')}"
        if event == "run_end":
            return f"run {r['status']} (exit {r['exit_code']}) in {r['duration_ms']:.0f} ms"
        return None


def sandbox_line(r: EventRecord) -> str | None:
    """The progress line of an e2b engine event (`sandbox_*`), or None for one not shown."""
    event = r["event"]
    if event == "sandbox_created":
        return f"sandbox {r.get('sandbox_id')} created (template {r.get('template')}) in {r.get('duration_ms', 0):.0f} ms"
    if event == "sandbox_install_start":
        return f"installing Osiris {r.get('version')} in the sandbox (found: {r.get('found') or 'none'})..."
    if event == "sandbox_install_end":
        return f"Osiris {r.get('version')} installed in the sandbox in {r.get('duration_ms', 0):.0f} ms"
    if event == "sandbox_upload":
        return f"uploaded {r.get('files')} files ({r.get('bytes')} bytes) in {r.get('duration_ms', 0):.0f} ms"
    if event == "sandbox_download":
        return f"downloaded {r.get('files')} files ({r.get('bytes')} bytes) in {r.get('duration_ms', 0):.0f} ms"
    if event == "sandbox_killed":
        return f"sandbox {r.get('sandbox_id')} killed"
    return None


def _rows(r: Mapping[str, Any]) -> str:
    parts = []
    if r.get("rows_read"):
        parts.append(f"{r['rows_read']} rows read")
    if r.get("rows_written"):
        parts.append(f"{r['rows_written']} rows written")
    if not parts:
        parts.append(f"{r.get('rows_out', 0)} rows out")
    return ", ".join(parts)


class RichProgress:
    """A live table on the terminal: per step its status, rows, rows/s and elapsed time."""

    def __init__(self, console: Any, contexts: Mapping[str, StepContext], step_ids: list[str]) -> None:
        from rich.live import Live

        self._contexts = contexts
        self._steps = step_ids
        self._status: dict[str, str] = {s: "waiting" for s in step_ids}
        self._started: dict[str, float] = {}
        self._elapsed: dict[str, float] = {}
        self._lock = threading.Lock()
        self._live = Live(console=console, refresh_per_second=8, transient=True, get_renderable=self._render)

    def __enter__(self) -> "RichProgress":
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.__exit__(*exc)

    def __call__(self, record: EventRecord) -> None:
        step, event = record.get("step"), record["event"]
        if step is None and event.startswith("sandbox_"):
            line = sandbox_line(record)
            if line:
                from rich.markup import escape

                self._live.console.print(f"[dim]{escape(line)}[/]", highlight=False)
            return
        if step not in self._status:
            return
        with self._lock:
            if event == "step_start":
                self._status[step] = "running"
                self._started[step] = time.perf_counter()
            elif event in {"step_end", "step_failed", "step_cancelled"}:
                self._status[step] = {"step_end": "ok", "step_failed": "failed"}.get(event, "cancelled")
                self._elapsed[step] = record.get("duration_ms", 0) / 1000

    def _render(self) -> Any:
        from rich.markup import escape
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column, justify in (("step", "left"), ("status", "left"), ("rows", "right"), ("rows/s", "right"),
                                ("elapsed", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        now = time.perf_counter()
        with self._lock:
            for step in self._steps:
                ctx = self._contexts.get(step)
                rows = max(ctx.rows_read, ctx.rows_written) if ctx else 0
                elapsed = self._elapsed.get(step, now - self._started[step] if step in self._started else 0.0)
                rate = f"{rows / elapsed:,.0f}" if elapsed > 0 and rows else ""
                style = {"ok": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}.get(self._status[step], "dim")
                table.add_row(escape(step), f"[{style}]{self._status[step]}[/]", f"{rows:,}", rate, f"{elapsed:.1f}s")
        return table


def render_summary_plain(summary: RunSummary, stream: IO[str]) -> None:
    for o in summary.steps:
        line = f"  {o.step:<30} {o.status:<9} read {o.rows_read:>9}  written {o.rows_written:>9}  {o.duration_ms:>9.0f} ms"
        print(line, file=stream)
    for output in summary.outputs:
        print(f"output: {output}", file=stream)


def render_summary_rich(summary: RunSummary, console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"{summary.pipeline} · run {summary.run_id}"), title_justify="left")
    for column, justify in (("step", "left"), ("status", "left"), ("rows read", "right"), ("rows written", "right"),
                            ("duration", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for o in summary.steps:
        style = {"ok": "green", "failed": "red"}.get(o.status, "yellow")
        table.add_row(escape(o.step), f"[{style}]{o.status}[/]", f"{o.rows_read:,}", f"{o.rows_written:,}",
                      f"{o.duration_ms:,.0f} ms")
    console.print(table)
    for output in summary.outputs:
        console.print(f"output: [bold]{escape(output)}[/]", highlight=False)
