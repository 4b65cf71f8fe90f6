"""Run events: one bus per run, redacted once, fanned out to subscribers (events.jsonl, progress).

Every record has `ts` (ISO 8601 UTC, milliseconds), `run_id`, `step` (null for run-level events)
and `event`, plus event-specific fields; the schema is in docs/events.md. Records pass through the
run's redactor before any subscriber sees them, so no subscriber can leak a secret.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable

from osiris_runtime.secrets import Redactor

EventRecord = dict[str, Any]
Subscriber = Callable[[EventRecord], None]


def utc_timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_json_line(record: EventRecord) -> str:
    """Compact JSON; values JSON cannot hold (dates, Decimals, paths) become strings."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)


class EventBus:
    """Thread-safe: steps emit from their own threads; subscribers are called in emit order."""

    def __init__(self, run_id: str, redactor: Redactor) -> None:
        self.run_id = run_id
        self.redactor = redactor
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)

    def emit(self, event: str, step: str | None = None, **fields: Any) -> EventRecord:
        record: EventRecord = {"ts": utc_timestamp(), "run_id": self.run_id, "step": step, "event": event}
        for key, value in fields.items():
            if key not in record:
                record[key] = value
        record = self.redactor.redact(record)
        with self._lock:
            for subscriber in self._subscribers:
                subscriber(record)
        return record


class JsonlEventWriter:
    """Writes each record as one line to a new events.jsonl and flushes, so a crash keeps what happened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8")

    def __call__(self, record: EventRecord) -> None:
        if self._file.closed:
            return
        self._file.write(to_json_line(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
