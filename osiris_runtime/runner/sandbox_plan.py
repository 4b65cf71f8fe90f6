"""What a remote run moves, decided before a sandbox exists: a pure function of the compiled steps.

- Uploads: the compiled manifest + cfg/ (as compiled: no secrets), the connections file byte for
  byte (`${VAR}` placeholders, never values), and every file a filesystem step reads (and the
  target of an `append` writer, which must grow the existing file).
- Downloads: every file a filesystem step writes, to the path the local engine would write.
- Secrets: the names of exactly the `${VAR}`s of the connections the steps use.

Paths: relative config paths start at the work directory, locally and in the sandbox alike
(`<remote root>/work`), so the compiled cfgs run unchanged; `~` is the sandbox user's home there;
absolute paths stay as they are.
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


@dataclass(frozen=True)
class SandboxPlan:
    layout: SandboxLayout
    reads: tuple[FileTransfer, ...]  # upload when the local file exists (else the step fails as locally)
    writes: tuple[FileTransfer, ...]  # download after the run when the sandbox has the file


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


def plan_transfers(steps: Iterable[StepPlan], local_work: Path, layout: SandboxLayout) -> SandboxPlan:
    reads: list[FileTransfer] = []
    writes: list[FileTransfer] = []
    for step in steps:
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
    return SandboxPlan(layout, tuple(reads), tuple(writes))


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
