"""What every AI entry point works against: the registry and the connections file of a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from osiris_runtime.discovery.model import Catalog
    from osiris_runtime.oml.connections import ConnectionsFile
    from osiris_runtime.registry import Registry


@dataclass(frozen=True)
class AiWorkspace:
    root: Path
    registry: "Registry"
    connections: "ConnectionsFile | None"

    @classmethod
    def open(cls, root: Path, env: Mapping[str, str], connections_path: Path | None = None) -> "AiWorkspace":
        """The CLI's registry and the connections file found from `root` (as `osiris oml validate` finds it)."""
        from osiris_runtime.oml.connections import find_connections_file, load_connections
        from osiris_runtime.registry import Registry, default_cache_dir, default_search_paths

        registry = Registry(default_search_paths(root, env), cache_dir=default_cache_dir(env))
        found = find_connections_file(root, env, connections_path)
        connections = load_connections(found) if found is not None else None
        return cls(root, registry, connections)

    def catalogs(self) -> "dict[tuple[str, str], Catalog]":
        """The usable `osiris discover` caches of this workspace's aliases (none without a connections file)."""
        from osiris_runtime.discovery.cache import workspace_catalogs

        return workspace_catalogs(self.connections, self.registry, self.root)
