"""Validation off the request path: in a separate worker process.

The validator is pure Python and CPU-bound (hundreds of milliseconds on a 2,000-step file). In a
thread it would hold the GIL against the event loop and slow completion right after every edit;
in its own process it runs on the other core and the server stays responsive. The worker keeps
one `FolderContext` per (folder, settings), so its registry and connections file stay warm; they
re-read changed files by modification time, exactly as the server's own do.

If the worker process cannot be used (it died, or processes are unavailable), validation falls
back to a thread in the server: slower to type against, never wrong.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from lsprotocol import types

from osiris_lsp.convert import lsp_diagnostic
from osiris_lsp.features.diagnostics import (
    connections_file_diagnostics,
    runtime_diagnostics,
)
from osiris_lsp.settings import ServerSettings
from osiris_lsp.workspace import DocumentSnapshot, FolderContext
from osiris_runtime.errors import Diagnostic

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=16)
def _worker_folder(root: Path | None, settings: ServerSettings) -> FolderContext:
    """The worker process's folder context for (root, settings), built once and kept warm."""
    return FolderContext.create(root, settings)


def validate_text(uri: str, version: int | None, text: str, root: Path | None,
                  settings: ServerSettings) -> list[Diagnostic]:
    """Runs in the worker process: parse and validate one document version."""
    snap = DocumentSnapshot(uri, version, text)
    if snap.is_connections_file:
        return connections_file_diagnostics(snap, _worker_folder(root, settings))
    return runtime_diagnostics(snap, _worker_folder(root, settings))


def _warm_up() -> None:
    """Import the validator in the worker before the first keystroke needs it."""
    import osiris_runtime.oml.rules  # noqa: F401


class Validator:
    """Runs `validate_text` on one worker process (one job at a time, queued jobs cancellable)."""

    def __init__(self, use_process: bool = True) -> None:
        self._use_process = use_process
        self._pool: Executor | None = None
        self._fallback = ThreadPoolExecutor(max_workers=1, thread_name_prefix="osiris-validate")

    def _executor(self) -> Executor:
        if self._pool is None:
            if self._use_process:
                try:
                    # spawn: the server has threads, and a forked copy of them is not safe
                    self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
                    self._pool.submit(_warm_up)
                except (OSError, NotImplementedError, ValueError) as exc:
                    log.warning("validation worker unavailable (%s); validating in a thread", exc)
                    self._use_process = False
            if self._pool is None:
                self._pool = self._fallback
        return self._pool

    def start(self) -> None:
        self._executor()

    async def diagnostics(self, snap: DocumentSnapshot, folder: FolderContext) -> list[types.Diagnostic]:
        loop = asyncio.get_running_loop()
        args = (snap.uri, snap.version, snap.text, folder.root, folder.settings)
        try:
            found = await loop.run_in_executor(self._executor(), validate_text, *args)
        except BrokenProcessPool:
            log.warning("validation worker died; validating in a thread from now on")
            self._pool, self._use_process = None, False
            found = await loop.run_in_executor(self._executor(), validate_text, *args)
        return [lsp_diagnostic(snap.lines, d) for d in found]

    def shutdown(self) -> None:
        if self._pool is not None and self._pool is not self._fallback:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._fallback.shutdown(wait=False, cancel_futures=True)
        self._pool = None
