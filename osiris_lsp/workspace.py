"""What the server knows about the editor's workspace: open documents, registries, connections.

A `DocumentSnapshot` is one version of one document; its lines and its parsed `OmlDocument` are
computed at most once, on first use, so typing (many versions) costs nothing until a feature asks.
A `FolderContext` holds the registry and the connections file of one workspace folder; the
connections file is re-read when its modification time changes or the client reports a change.
The server mutates this state on its event loop; feature functions only read snapshots.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from pygls.uris import to_fs_path

from osiris_lsp.settings import ServerSettings
from osiris_runtime.registry import Registry, default_search_paths

if TYPE_CHECKING:
    from osiris_runtime.discovery.model import Catalog
    from osiris_runtime.oml.connections import ConnectionsFile
    from osiris_runtime.oml.document import OmlDocument
    from osiris_runtime.oml.incremental import StepChunkCache

OML_SUFFIXES = (".oml.yaml", ".oml.yml")
YAML_SUFFIXES = (".yaml", ".yml")
CONNECTIONS_FILE_NAME = "osiris_connections.yaml"
_OML_VERSION_KEY = re.compile(r"^oml_version[ \t]*:", re.M)


def is_oml(uri: str, text: str) -> bool:
    """`*.oml.yaml`, `*.oml.yml`, or a YAML document with a top-level `oml_version`."""
    lowered = uri.lower()
    if lowered.endswith(OML_SUFFIXES):
        return True
    return (lowered.endswith(YAML_SUFFIXES) or "." not in lowered.rsplit("/", 1)[-1]) and bool(
        _OML_VERSION_KEY.search(text)
    )


def uri_to_path(uri: str) -> Path | None:
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return Path(path) if path else None


def initial_folders(folder_uris: Iterable[str], root_uri: str | None) -> list[Path]:
    """The workspace folders of an `initialize` request: its folders, else its root."""
    folders = [uri_to_path(uri) for uri in folder_uris]
    if not folders and root_uri:
        folders = [uri_to_path(root_uri)]
    return [f for f in folders if f is not None]


class DocumentSnapshot:
    """One version of a document; lines and the parsed OML model are computed lazily, once."""

    def __init__(self, uri: str, version: int | None, text: str,
                 chunk_cache: "StepChunkCache | None" = None) -> None:
        self.uri = uri
        # Parses of the previous version's steps, re-used for the unchanged ones (the worker's).
        self._chunk_cache = chunk_cache
        self.version = version
        self.text = text
        self.path = uri_to_path(uri)
        self._lines: list[str] | None = None
        self._document: OmlDocument | None = None
        self._lock = threading.Lock()

    @property
    def chunk_cache(self) -> "StepChunkCache | None":
        """What earlier versions of this document parsed and found (the worker's), or None."""
        return self._chunk_cache

    @functools.cached_property
    def is_oml(self) -> bool:
        return is_oml(self.uri, self.text)

    @property
    def is_connections_file(self) -> bool:
        return self.path is not None and self.path.name == CONNECTIONS_FILE_NAME

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines

    def document(self) -> "OmlDocument":
        """The parsed document (parse_oml never raises); parsed on first use, then shared."""
        with self._lock:
            if self._document is None:
                source = str(self.path) if self.path else self.uri
                if self._chunk_cache is not None:
                    from osiris_runtime.oml.incremental import parse_oml_reusing

                    self._document = parse_oml_reusing(self.text, source, self._chunk_cache)
                else:
                    from osiris_runtime.oml.document import parse_oml

                    self._document = parse_oml(self.text, source=source)
            return self._document


@dataclass
class FolderContext:
    """The registry and connections file that apply to documents under `root`."""

    root: Path | None
    settings: ServerSettings
    registry: Registry
    _connections: "ConnectionsFile | None" = None
    _connections_key: tuple[Path | None, float | None] | None = None
    generation: int = 0  # bumped whenever the connections file changes
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _catalogs: "tuple[object, dict[tuple[str, str], Catalog]] | None" = None

    @classmethod
    def create(cls, root: Path | None, settings: ServerSettings) -> "FolderContext":
        resolved = settings.resolved(root)
        env = dict(os.environ)
        paths = default_search_paths(root, env) + list(resolved.components_path)
        return cls(root=root, settings=resolved, registry=Registry(paths))

    def connections_path(self) -> Path | None:
        from osiris_runtime.oml.connections import find_connections_file

        start = self.root or Path.cwd()
        return find_connections_file(start, dict(os.environ), self.settings.connections_file)

    def connections(self) -> "ConnectionsFile | None":
        """The connections file, re-read when it appeared, moved or changed on disk."""
        path = self.connections_path()
        mtime = _mtime(path)
        with self._lock:
            if self._connections_key != (path, mtime):
                self._connections = None
                if path is not None and mtime is not None:
                    from osiris_runtime.oml.connections import load_connections

                    self._connections = load_connections(path)
                if self._connections_key is not None:
                    self.generation += 1
                self._connections_key = (path, mtime)
            return self._connections

    def discovery_root(self) -> Path:
        from osiris_runtime.discovery.cache import cache_root

        return cache_root(self.connections_path(), self.root or Path.cwd())

    def catalogs(self) -> "dict[tuple[str, str], Catalog]":
        """The usable discovery caches of this folder's aliases, re-read when a cache file or the
        connections file changes (one directory listing per call; never connects)."""
        from osiris_runtime.discovery.cache import cache_files_signature, workspace_catalogs

        connections = self.connections()
        root = self.discovery_root()
        key = (self.generation, root, cache_files_signature(root))
        current = self._catalogs
        if current is None or current[0] != key:
            current = (key, workspace_catalogs(connections, self.registry, root))
            self._catalogs = current
        return current[1]

    def owns(self, path: Path) -> bool:
        return self.root is None or path == self.root or self.root in path.parents


class OmlWorkspace:
    """Snapshots of open documents and one `FolderContext` per workspace folder."""

    def __init__(self, settings: ServerSettings | None = None, folders: Iterable[Path] = ()) -> None:
        self.settings = settings or ServerSettings()
        self._folders: list[FolderContext] = []
        self._fallback: dict[Path | None, FolderContext] = {}
        self._snapshots: dict[str, DocumentSnapshot] = {}
        self.set_folders(folders)

    def set_folders(self, folders: Iterable[Path]) -> None:
        # deepest first, so a nested folder wins over its parent
        roots = sorted({Path(f) for f in folders}, key=lambda p: len(p.parts), reverse=True)
        self._folders = [FolderContext.create(root, self.settings) for root in roots]
        self._fallback.clear()

    def update_settings(self, settings: ServerSettings) -> bool:
        """Apply new settings; True when they differ (folder contexts are rebuilt)."""
        if settings == self.settings:
            return False
        self.settings = settings
        self.set_folders(self.roots())
        return True

    def folder_for(self, uri: str) -> FolderContext:
        path = uri_to_path(uri)
        if path is not None:
            for folder in self._folders:
                if folder.owns(path):
                    return folder
        # a file outside every folder: its own directory plays the workspace
        root = path.parent if path is not None else None
        if root not in self._fallback:
            self._fallback[root] = FolderContext.create(root, self.settings)
        return self._fallback[root]

    def roots(self) -> list[Path]:
        """The workspace folders the client declared."""
        return [f.root for f in self._folders if f.root is not None]

    def folders(self) -> list[FolderContext]:
        return [*self._folders, *self._fallback.values()]

    def snapshot(self, uri: str, version: int | None, text: str) -> DocumentSnapshot:
        """The snapshot of this version, shared by every feature that asks for it."""
        current = self._snapshots.get(uri)
        if current is None or current.version != version or current.text is not text and current.text != text:
            current = DocumentSnapshot(uri, version, text)
            self._snapshots[uri] = current
        return current

    def forget(self, uri: str) -> None:
        self._snapshots.pop(uri, None)

    def connections_changed(self, changed: Path) -> bool:
        """Re-read the connections file(s) `changed` may be; True when any open document is affected."""
        affected = False
        for folder in self.folders():
            before = folder.generation
            path = folder.connections_path()
            if path is not None and (path == changed or path.name == changed.name):
                folder.connections()
                affected = affected or folder.generation != before or path == changed
        return affected


def _mtime(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None
