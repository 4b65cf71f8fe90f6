"""Work that needs the parsed document, off the request path: in a separate worker process.

Parsing and validating are pure Python and CPU-bound (hundreds of milliseconds on a 2,000-step
file). In a thread they would hold the GIL against the event loop and slow completion right after
every edit; in their own process they run on the other core and the server stays responsive. So
validation and every feature that needs the parse (outline, definition, references, rename, quick
fixes) run there. The worker keeps one `FolderContext` per (folder, settings), so its registry and
connections file stay warm (they re-read changed files by modification time, exactly as the
server's own do), and the last few document versions, so a feature after validation reuses the
parse.

If the worker process cannot be used (it died, or processes are unavailable), validation falls
back to a thread in the server: slower to type against, never wrong.

One document cannot stall the others: a job that runs longer than `job_timeout` has its worker
process killed and replaced (queued jobs of other documents go to the new one); that document gets
an `oml.validation-timeout` diagnostic, a feature request on it gets no result.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # The front (front.py) starts the worker with this module before it reads `initialize`: it
    # imports the worker's modules (and asyncio, lsprotocol) only when it needs them.
    from lsprotocol import types

    from osiris_lsp.workspace import DocumentSnapshot, FolderContext
    from osiris_runtime.errors import Diagnostic

log = logging.getLogger(__name__)


# Far above the slowest real document (a 2 MB file validates in seconds): only runaway work hits it.
JOB_TIMEOUT_SECONDS = 30.0


def _start_worker() -> None:
    """The worker process's first act: die with the server, import what its first job needs."""
    from osiris_lsp.worker import _warm_up, die_with_parent

    die_with_parent()
    try:
        _warm_up()
    except Exception:  # the first job then imports what it needs itself
        log.warning("validation worker warm-up failed", exc_info=True)


class WorkerTimeout(Exception):
    """A job ran past the time budget; its worker was replaced."""


class Validator:
    """Runs `run_feature` on one worker process (one job at a time, queued jobs cancellable,
    a runaway job's worker killed and replaced)."""

    def __init__(self, use_process: bool = True, job_timeout: float = JOB_TIMEOUT_SECONDS,
                 fork_first: bool = False) -> None:
        self.job_timeout = job_timeout
        self._use_process = use_process
        # The front (front.py) starts the first worker before the process has any other thread:
        # then a fork is safe, and skips the new interpreter's start-up and imports (replacements
        # are always spawned).
        self._fork_next = fork_first
        self._pool: Executor | None = None
        self._fallback = ThreadPoolExecutor(max_workers=1, thread_name_prefix="osiris-validate")

    def _executor(self) -> Executor:
        if self._pool is None:
            if self._use_process:
                fork, self._fork_next = self._fork_next and threading.active_count() == 1, False
                try:
                    # spawn: the server has threads, and a forked copy of them is not safe
                    method = "fork" if fork and "fork" in multiprocessing.get_all_start_methods() else "spawn"
                    self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context(method),
                                                     initializer=_start_worker)
                except (OSError, NotImplementedError, ValueError) as exc:
                    log.warning("validation worker unavailable (%s); validating in a thread", exc)
                    self._use_process = False
            if self._pool is None:
                self._pool = self._fallback
        return self._pool

    def start(self) -> None:
        self._executor()

    def submit_diagnostics(self, snap: "DocumentSnapshot", folder: "FolderContext") -> "Future[list[Diagnostic]]":
        """The runtime diagnostics of a version, from any thread (the front's, before the event loop
        runs): no time budget, no fallback; a failure is the future's exception."""
        return self._executor().submit(*self._call("diagnostics", snap, folder))

    @staticmethod
    def _call(feature: str, snap: "DocumentSnapshot", folder: "FolderContext", *args: Any) -> tuple[Any, ...]:
        from osiris_lsp.worker import run_feature

        return (run_feature, feature, snap.uri, snap.version, snap.text, folder.root, folder.settings, *args)

    async def diagnostics(self, snap: "DocumentSnapshot", folder: "FolderContext") -> list["types.Diagnostic"]:
        from osiris_lsp.convert import structured_diagnostic

        return [structured_diagnostic(item) for item in await self.diagnostics_json(snap, folder)]

    async def diagnostics_json(self, snap: "DocumentSnapshot", folder: "FolderContext") -> list[dict[str, Any]]:
        """The LSP diagnostics of a version, as JSON (`lsp_json.diagnostic_json`)."""
        from osiris_lsp.lsp_json import diagnostic_json

        try:
            found = await self._bounded("diagnostics", snap, folder)
        except WorkerTimeout:
            from osiris_runtime.errors import Diagnostic, Range, Severity

            found = [Diagnostic("oml.validation-timeout",
                                f"validation took longer than {self.job_timeout:g} s and was stopped; "
                                "other documents were not held up", Range(), Severity.WARNING,
                                fix="split the document, or report it as a bug if it is small", source=snap.uri)]
        return [diagnostic_json(snap.lines, d, folder.settings.docs_base_url) for d in found]

    async def run(self, feature: str, snap: "DocumentSnapshot", folder: "FolderContext", *args: Any) -> Any:
        """`feature` (a name in `_features`) on the worker; its result or its exception (None
        when it ran past the time budget)."""
        try:
            return await self._bounded(feature, snap, folder, *args)
        except WorkerTimeout:
            return None

    async def _bounded(self, feature: str, snap: "DocumentSnapshot", folder: "FolderContext", *args: Any) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        call = self._call(feature, snap, folder, *args)
        while True:
            pool = self._executor()
            try:
                return await asyncio.wait_for(loop.run_in_executor(pool, *call), self.job_timeout)
            except asyncio.TimeoutError:
                self._replace(pool)
                raise WorkerTimeout(feature) from None
            except BrokenProcessPool:
                if self._pool is not pool:
                    continue  # we replaced that worker (another document's runaway job): use the new one
                log.warning("worker process died; running in a thread from now on")
                self._pool, self._use_process = None, False

    def _replace(self, pool: Executor) -> None:
        """Kill a process pool's worker so the next job starts a fresh one (a thread cannot be killed:
        the thread fallback just moves on)."""
        if pool is self._fallback or pool is not self._pool:
            return
        log.warning("a validation job ran past %g s; restarting the worker", self.job_timeout)
        for process in list(getattr(pool, "_processes", {}).values()):  # no public kill before Python 3.14
            process.kill()
        pool.shutdown(wait=False, cancel_futures=False)
        self._pool = None

    def shutdown(self) -> None:
        if self._pool is not None and self._pool is not self._fallback:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._fallback.shutdown(wait=False, cancel_futures=True)
        self._pool = None
