"""What a remote run moves, decided before a sandbox exists: a pure function of the compiled steps.

- Uploads: the compiled manifest + cfg/ (as compiled: no secrets), the connections file byte for
  byte (`${VAR}` placeholders, never values), every file a filesystem step reads (and the
  target of an `append` writer, which must grow the existing file), and every local file a
  `duckdb.processor` query names (`read_csv('x.csv')`, `read_parquet([...])`, `FROM 'x.parquet'`,
  globs expanded at upload). A query whose file argument is not a literal cannot be planned:
  `unknown_reads` says which, and the engine refuses the run before a sandbox exists.
- Downloads: every file a filesystem step writes, to the path the local engine would write.
- Secrets: the names of exactly the `${VAR}`s of the connections the steps use.

Paths: relative config paths start at the work directory, locally and in the sandbox alike
(`<remote root>/work`), so the compiled cfgs run unchanged; `~` is the sandbox user's home there;
absolute paths stay as they are. A relative path in a DuckDB query is found locally in the
process's directory first, then in the work directory (DuckDB's `file_search_path`); in the
sandbox both are `<remote root>/work`, so the file found first locally is the one sent there.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from osiris_runtime.runner.plan import StepPlan

SANDBOX_HOME = "/home/user"
FILE_FAMILY = "filesystem"
DUCKDB_FAMILY = "duckdb"


@dataclass(frozen=True)
class SandboxLayout:
    """Where a run lives in the sandbox: `/home/user/osiris/<run id>/{compiled,work,run}`."""

    root: str

    @classmethod
    def for_run(cls, run_id: str) -> "SandboxLayout":
        return cls(f"{SANDBOX_HOME}/osiris/{run_id}")

    @property
    def compiled(self) -> str:
        return f"{self.root}/compiled"

    @property
    def work(self) -> str:
        return f"{self.root}/work"

    @property
    def run_dir(self) -> str:
        return f"{self.root}/run"

    @property
    def connections(self) -> str:
        return f"{self.root}/osiris_connections.yaml"


@dataclass(frozen=True)
class FileTransfer:
    step: str
    local: Path
    remote: str
    also: tuple[Path, ...] = ()  # other local places of the same file, looked in when `local` is not there
    glob: bool = False  # `local` is a pattern (`data/*.csv`): every match is sent, to the same place under `remote`'s folder

    def sources(self) -> list[tuple[Path, str]]:
        """(local file, remote path) pairs to send: the first place that has the file (or, for a
        pattern, the first place with a match); none when no place has it (the step then fails in
        the sandbox as it would locally)."""
        for local in (self.local, *self.also):
            if not self.glob:
                if local.is_file():
                    return [(local, self.remote)]
                continue
            base, pattern = _glob_base(local)
            remote_base = self.remote[: len(self.remote) - len(pattern)].rstrip("/")  # the same pattern ends both
            matches = sorted(m for m in base.glob(pattern) if m.is_file())
            if matches:
                return [(m, posixpath.join(remote_base, m.relative_to(base).as_posix())) for m in matches]
        return []


@dataclass(frozen=True)
class SandboxPlan:
    layout: SandboxLayout
    reads: tuple[FileTransfer, ...]  # upload when the local file exists (else the step fails as locally)
    writes: tuple[FileTransfer, ...]  # download after the run when the sandbox has the file
    unknown_reads: tuple[tuple[str, str], ...] = ()  # (step, call): a query file that is not a literal


_GLOB_CHARS = frozenset("*?[")


def _glob_base(pattern: Path) -> tuple[Path, str]:
    """`/w/data/2024-*/x.csv` -> (`/w/data`, `2024-*/x.csv`): the folder before the first glob part."""
    parts = pattern.parts
    first = next(i for i, part in enumerate(parts) if _GLOB_CHARS & set(part))
    return Path(*parts[:first]), "/".join(parts[first:])


def _paths(raw: str, local_work: Path, layout: SandboxLayout) -> tuple[Path, str]:
    """The local path (as the local engine resolves it) and the sandbox path of one config path."""
    if raw.startswith("~"):
        local = Path(os.path.expanduser(raw))
        remote = SANDBOX_HOME + raw[1:]
    elif posixpath.isabs(raw):
        local, remote = Path(raw), raw
    else:
        local, remote = local_work / raw, posixpath.join(layout.work, raw)
    return local, posixpath.normpath(remote)


def plan_transfers(steps: Iterable[StepPlan], local_work: Path, layout: SandboxLayout,
                   local_cwd: Path | None = None) -> SandboxPlan:
    """`local_cwd`: the directory a local DuckDB resolves a relative query path in first (the
    process's; default `local_work`)."""
    reads: list[FileTransfer] = []
    writes: list[FileTransfer] = []
    unknown: list[tuple[str, str]] = []
    for step in steps:
        if step.family == DUCKDB_FAMILY:
            found, calls = _query_reads(step, local_work, local_cwd or local_work, layout)
            reads.extend(found)
            unknown.extend((step.id, call) for call in calls)
            continue
        raw = step.config.get("path")
        if step.family != FILE_FAMILY or not isinstance(raw, str) or not raw:
            continue
        local, remote = _paths(raw, local_work, layout)
        if step.mode == "write":
            writes.append(FileTransfer(step.id, local, remote))
            if step.config.get("write_mode") == "append":
                reads.append(FileTransfer(step.id, local, remote))
        else:
            reads.append(FileTransfer(step.id, local, remote))
    return SandboxPlan(layout, tuple(reads), tuple(writes), tuple(unknown))


def _query_reads(step: StepPlan, local_work: Path, local_cwd: Path,
                 layout: SandboxLayout) -> tuple[list[FileTransfer], tuple[str, ...]]:
    """The files a DuckDB step's query names, and the calls whose file is not a literal."""
    from osiris_runtime.oml.sql_analysis import files_read

    query = step.config.get("query")
    if not isinstance(query, str) or not query.strip():
        return [], ()
    params = step.config.get("query_params")
    bound = tuple(sorted((str(k), v) for k, v in params.items())) if isinstance(params, Mapping) else ()
    try:
        found = files_read(query, bound)
    except TypeError:  # a query_params value that cannot be hashed: the driver refuses it anyway
        found = files_read(query)
    transfers = []
    for raw in found.paths:
        local, remote = _paths(raw, local_work, layout)
        also: tuple[Path, ...] = ()
        if not (raw.startswith("~") or posixpath.isabs(raw)) and local_cwd != local_work:
            local, also = local_cwd / raw, (local,)
        transfers.append(FileTransfer(step.id, local, remote, also, glob=bool(_GLOB_CHARS & set(raw))))
    return transfers, found.unknown


def referenced_variables(aliases: Iterable[Mapping[str, Any]]) -> list[str]:
    """The `${VAR}` names the given connection aliases' fields refer to, in order, once each."""
    from osiris_runtime.oml.connections import env_references

    names: list[str] = []
    for fields in aliases:
        names.extend(n for n in env_references(dict(fields)) if n not in names)
    return names


class PathMapper:
    """Rewrites sandbox paths in remote records (events, metrics) to the local ones, and back."""

    def __init__(self, pairs: Mapping[str, str]) -> None:
        # longest first, so /x/work/out maps before /x/work
        self._pairs = sorted(pairs.items(), key=lambda kv: len(kv[0]), reverse=True)

    def to_local(self, value: Any) -> Any:
        if isinstance(value, str):
            for remote, local in self._pairs:
                if remote in value:
                    value = value.replace(remote, local)
            return value
        if isinstance(value, Mapping):
            return {k: self.to_local(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.to_local(v) for v in value]
        return value
