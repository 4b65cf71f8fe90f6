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

import asyncio
import functools
import gc
import logging
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lsprotocol import types

from osiris_lsp.convert import lsp_diagnostic
from osiris_lsp.settings import ServerSettings
from osiris_lsp.workspace import DocumentSnapshot, FolderContext
from osiris_runtime.errors import Diagnostic, Range, Severity

if TYPE_CHECKING:  # imported in the worker only: the server answers `initialize` without the parser
    from osiris_runtime.oml.incremental import StepChunkCache

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=16)
def _worker_folder(root: Path | None, settings: ServerSettings) -> FolderContext:
    """The worker process's folder context for (root, settings), built once and kept warm."""
    return FolderContext.create(root, settings)


@functools.lru_cache(maxsize=8)
def _worker_chunk_cache(uri: str) -> "StepChunkCache":
    """Step parses of the last version of a document, for the last few documents edited."""
    from osiris_runtime.oml.incremental import StepChunkCache

    return StepChunkCache()


@functools.lru_cache(maxsize=4)
def _worker_snapshot(uri: str, version: int | None, text: str) -> DocumentSnapshot:
    """The worker's snapshot of a version (its parse is shared by validation and features)."""
    return DocumentSnapshot(uri, version, text, chunk_cache=_worker_chunk_cache(uri))


def _diagnostics(snap: DocumentSnapshot, folder: FolderContext) -> list["Diagnostic"]:
    from osiris_lsp.features.diagnostics import connections_file_diagnostics, runtime_diagnostics

    if snap.is_connections_file:
        return connections_file_diagnostics(snap, folder)
    return runtime_diagnostics(snap, folder)


def _features() -> dict[str, Callable[..., Any]]:
    from osiris_lsp.features import code_actions, definition, rename, symbols

    return {
        "diagnostics": _diagnostics,
        "symbols": lambda snap, folder: symbols.document_symbols(snap),
        "definition": definition.definition,
        "references": lambda snap, folder, pos, with_decl: definition.references(snap, pos, with_decl),
        "prepare_rename": lambda snap, folder, pos: rename.prepare_rename(snap, pos),
        "rename": lambda snap, folder, pos, new_name: rename.rename(snap, pos, new_name),
        "code_actions": code_actions.quick_fixes,
    }


def run_feature(feature: str, uri: str, version: int | None, text: str, root: Path | None,
                settings: ServerSettings, *args: Any) -> Any:
    """Runs in the worker process: one feature on one document version."""
    return _features()[feature](_worker_snapshot(uri, version, text), _worker_folder(root, settings), *args)


def die_with_parent() -> None:
    """In a child process: get SIGTERM when the server dies, so nothing outlives the session (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _warm_up() -> None:
    """Import the validator in the worker before the first keystroke needs it."""
    import osiris_lsp.features.diagnostics  # noqa: F401
    import osiris_runtime.oml.incremental  # noqa: F401
    import osiris_runtime.oml.rules  # noqa: F401

    # A parse allocates tens of thousands of acyclic objects; with the default thresholds the
    # collections they trigger cost a quarter of a large file's validation. Collect rarely, and
    # never walk the modules and specs loaded now (they live as long as the worker).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


# Far above the slowest real document (a 2 MB file validates in seconds): only runaway work hits it.
JOB_TIMEOUT_SECONDS = 30.0


class WorkerTimeout(Exception):
    """A job ran past the time budget; its worker was replaced."""


class Validator:
    """Runs `run_feature` on one worker process (one job at a time, queued jobs cancellable,
    a runaway job's worker killed and replaced)."""

    def __init__(self, use_process: bool = True, job_timeout: float = JOB_TIMEOUT_SECONDS) -> None:
        self.job_timeout = job_timeout
        self._use_process = use_process
        self._pool: Executor | None = None
        self._fallback = ThreadPoolExecutor(max_workers=1, thread_name_prefix="osiris-validate")

    def _executor(self) -> Executor:
        if self._pool is None:
            if self._use_process:
                try:
                    # spawn: the server has threads, and a forked copy of them is not safe
                    self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=die_with_parent)
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
        try:
            found = await self._bounded("diagnostics", snap, folder)
        except WorkerTimeout:
            found = [Diagnostic("oml.validation-timeout",
                                f"validation took longer than {self.job_timeout:g} s and was stopped; "
                                "other documents were not held up", Range(), Severity.WARNING,
                                fix="split the document, or report it as a bug if it is small", source=snap.uri)]
        return [lsp_diagnostic(snap.lines, d, folder.settings.docs_base_url) for d in found]

    async def run(self, feature: str, snap: DocumentSnapshot, folder: FolderContext, *args: Any) -> Any:
        """`feature` (a name in `_features`) on the worker; its result or its exception (None
        when it ran past the time budget)."""
        try:
            return await self._bounded(feature, snap, folder, *args)
        except WorkerTimeout:
            return None

    async def _bounded(self, feature: str, snap: DocumentSnapshot, folder: FolderContext, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        call = (run_feature, feature, snap.uri, snap.version, snap.text, folder.root, folder.settings, *args)
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
