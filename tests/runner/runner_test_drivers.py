"""Small drivers for runner tests: deterministic sources, pass-throughs, sinks, failures."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator, Mapping

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.runner.batches import Batch, Column, Schema

SCHEMA = Schema((Column("n", "int64"),))

# Shared between a test and the drivers it runs; tests reset what they use.
RECORD: dict[str, Any] = {"reads": {}, "order": [], "active": 0, "max_active": 0, "sink": {}}
LOCK = threading.Lock()


def _enter(step: str) -> None:
    with LOCK:
        RECORD["order"].append(("start", step))
        RECORD["active"] += 1
        RECORD["max_active"] = max(RECORD["max_active"], RECORD["active"])


def _leave(step: str) -> None:
    with LOCK:
        RECORD["order"].append(("end", step))
        RECORD["active"] -= 1


class Numbers:
    """Yields `rows` integers in batches of `batch`; counts how often its stream is read."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        rows, size = int(self.ctx.config.get("rows", 10)), int(self.ctx.config.get("batch", 5))
        sleep = float(self.ctx.config.get("sleep", 0))
        _enter(self.ctx.step_id)
        try:
            with LOCK:
                RECORD["reads"][self.ctx.step_id] = RECORD["reads"].get(self.ctx.step_id, 0) + 1
                RECORD.setdefault("accept", {})[self.ctx.step_id] = self.ctx.consumers_accept
            for start in range(0, rows, size):
                if sleep:
                    time.sleep(sleep)
                batch = Batch(SCHEMA, [(i,) for i in range(start, min(rows, start + size))])
                self.ctx.add_read(len(batch))
                yield batch
        finally:
            _leave(self.ctx.step_id)


class Double:
    """Transform: doubles every value of every input."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        for stream in inputs.values():
            for batch in stream:
                self.ctx.add_read(len(batch))
                yield Batch(batch.schema, [(r[0] * 2,) for r in batch.rows])


class Sink:
    """Writer: sums its inputs into RECORD["sink"][step_id]."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        _enter(self.ctx.step_id)
        try:
            total = 0
            rows = 0
            for stream in inputs.values():
                for batch in stream:
                    total += sum(r[0] for r in batch.rows)
                    rows += len(batch)
                    self.ctx.add_written(len(batch))
                    if self.ctx.config.get("sleep"):
                        time.sleep(float(self.ctx.config["sleep"]))
            with LOCK:
                RECORD["sink"][self.ctx.step_id] = (rows, total)
            self.ctx.extra_metrics["output"] = f"memory://{self.ctx.step_id}"
        finally:
            _leave(self.ctx.step_id)


class LineSink(Sink):
    """A Sink that declares it takes a batch form of its own as it is (like the Postgres writer's COPY text)."""

    accepts = frozenset({"lines", "other"})


class LineSinkToo(Sink):
    accepts = frozenset({"lines"})


class Boom:
    """Fails after `after` batches of its input (or at once), with a message that may hold a secret."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        seen = 0
        after = int(self.ctx.config.get("after", 0))
        if after == 0:
            raise RuntimeError(self.ctx.config.get("message", "boom"))
        for stream in inputs.values():
            for _batch in stream:
                seen += 1
                if seen >= after:
                    raise RuntimeError(self.ctx.config.get("message", "boom"))


class UsesConnection:
    """Reads its connection at start and again (a "reconnect") after `reconnect_after` seconds."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        import logging
        import os

        first = self.ctx.connection()
        # What careless driver code does: every one of these must come out redacted.
        self.ctx.emit("connected", detail=f"connected with {first}")
        logging.getLogger("osiris.test.driver").warning("connecting with %s", first)
        ready = self.ctx.config.get("ready_file")
        if ready:
            open(ready, "w").close()
        waited = 0.0
        gate = self.ctx.config.get("gate_file")

        while gate and not os.path.exists(gate) and waited < 10:
            time.sleep(0.02)
            waited += 0.02
        second = self.ctx.connection()
        with LOCK:
            RECORD["connections"] = (first, second)
        message = self.ctx.config.get("fail_with")
        if message:
            raise RuntimeError(message.format(**second))


class Slow:
    """A writer that drains its inputs slowly, checking for cancellation."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        deadline = time.time() + float(self.ctx.config.get("seconds", 5))
        while time.time() < deadline:
            if self.ctx.cancelled:
                with LOCK:
                    RECORD.setdefault("cancelled", []).append(self.ctx.step_id)
                return
            time.sleep(0.01)
