"""Channels: how batches move from one step's thread to another's.

A producer's output is read once and teed into one channel per consumer. A channel is bounded:
`put` blocks while the consumer is behind, which keeps memory flat. A consumer that waits for
more than one upstream (a join, or a step that must wait for a writer) could deadlock a bounded
tee (the classic diamond), so its channels spill to a temporary file past the in-memory bound
instead of blocking. Every wait wakes up regularly to notice cancellation.
"""

from __future__ import annotations

import collections
import pickle
import tempfile
import threading
from typing import IO, Iterator

from osiris_runtime.runner.batches import Batch

_POLL_SECONDS = 0.05


class RunCancelled(Exception):
    """Raised inside a step when the run is being cancelled (another step failed)."""


class Channel:
    """A FIFO of batches between one producer and one consumer.

    `spill=False`: at most `capacity` batches in memory, `put` blocks when full.
    `spill=True`: at most `capacity` batches in memory, the rest pickled to a temporary file.
    """

    def __init__(self, cancel: threading.Event, capacity: int = 4, spill: bool = False) -> None:
        self._cancel = cancel
        self._capacity = max(1, capacity)
        self._spill = spill
        self._memory: collections.deque[Batch] = collections.deque()
        self._spilled = 0
        self._spill_file: IO[bytes] | None = None
        self._spill_read_pos = 0
        self._closed = False  # producer finished
        self._abandoned = False  # consumer finished (or failed) without reading everything
        self._cond = threading.Condition()
        self.rows = 0  # rows handed to the consumer

    # Producer side -------------------------------------------------------------------------------

    def put(self, batch: Batch) -> None:
        with self._cond:
            while True:
                if self._cancel.is_set():
                    raise RunCancelled()
                if self._abandoned:
                    return  # nobody listens any more: drop
                if self._spilled == 0 and len(self._memory) < self._capacity:
                    self._memory.append(batch)
                    break
                if self._spill:
                    self._write_spill(batch)
                    break
                self._cond.wait(_POLL_SECONDS)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # Consumer side -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Batch]:
        while True:
            batch = self._get()
            if batch is None:
                return
            self.rows += len(batch)
            yield batch

    def _get(self) -> Batch | None:
        with self._cond:
            while True:
                if self._cancel.is_set():
                    raise RunCancelled()
                if self._memory:
                    batch = self._memory.popleft()
                    self._refill_from_spill()
                    self._cond.notify_all()
                    return batch
                if self._spilled:
                    self._refill_from_spill()
                    continue
                if self._closed:
                    return None
                self._cond.wait(_POLL_SECONDS)

    def abandon(self) -> None:
        """The consumer is done: drop whatever is left and never block the producer again."""
        with self._cond:
            self._abandoned = True
            self._memory.clear()
            self._discard_spill()
            self._cond.notify_all()

    # Spill file (only touched with the condition held) -------------------------------------------

    def _write_spill(self, batch: Batch) -> None:
        if self._spill_file is None:
            self._spill_file = tempfile.TemporaryFile(prefix="osiris-spill-")  # noqa: SIM115
            self._spill_read_pos = 0
        self._spill_file.seek(0, 2)
        pickle.dump(batch, self._spill_file, protocol=pickle.HIGHEST_PROTOCOL)
        self._spilled += 1

    def _refill_from_spill(self) -> None:
        while self._spilled and len(self._memory) < self._capacity:
            assert self._spill_file is not None
            self._spill_file.seek(self._spill_read_pos)
            self._memory.append(pickle.load(self._spill_file))
            self._spill_read_pos = self._spill_file.tell()
            self._spilled -= 1
        if self._spilled == 0 and self._spill_file is not None:
            self._discard_spill()

    def _discard_spill(self) -> None:
        if self._spill_file is not None:
            self._spill_file.close()
        self._spill_file = None
        self._spilled = 0
