"""The discovery cache: `.osiris/discovery/<family>.<alias>.json` beside the connections file.

A cache is valid for the connection it was taken from: its fingerprint covers the alias's
non-secret identity as written in the connections file (host, port, database, user, url, ...; a
`dsn` without its password; a `${VAR}` reference by its name) and the versions of the family's
component specs. Editing the alias or upgrading a spec makes the cache `mismatched`; age makes it
`stale` against a `--max-age`. The file holds no secret and no identity value, only the names of
the fields the fingerprint covers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from osiris_runtime.atomic_files import write_atomically
from osiris_runtime.canonical import fingerprint
from osiris_runtime.discovery.model import Catalog, catalog_from_json

if TYPE_CHECKING:
    from osiris_runtime.oml.connections import ConnectionAlias
    from osiris_runtime.registry import Registry

# Fields that say *which* database a connection reaches (never a password or a key).
IDENTITY_FIELDS = ("url", "project_id", "host", "port", "database", "dbname", "user", "username", "schema", "sslmode")
_DSN_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@|(\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def cache_root(connections_path: Path | None, fallback: Path) -> Path:
    """Where `.osiris/discovery/` lives: beside the connections file, so the CLI and the editor agree."""
    return connections_path.parent if connections_path is not None else fallback


def cache_path(root: Path, family: str, alias: str) -> Path:
    return root / ".osiris" / "discovery" / f"{family}.{alias}.json"


def identity_of(alias: "ConnectionAlias") -> dict[str, Any]:
    """The alias's non-secret identity as written (`${VAR}` unresolved): what the fingerprint covers."""
    fields = {k: v for k, v in alias.fields.items() if k in IDENTITY_FIELDS and v not in (None, "")}
    dsn = alias.fields.get("dsn")
    if isinstance(dsn, str) and dsn:
        fields["dsn"] = _DSN_PASSWORD.sub(lambda m: (m.group(1) + "@") if m.group(1) else m.group(2) + "***", dsn)
    return {"family": alias.family, "alias": alias.alias, **{k: str(v) for k, v in fields.items()}}


def spec_versions(registry: "Registry", family: str) -> dict[str, str]:
    return {s.name: s.version for s in registry.specs() if s.family == family}


def connection_fingerprint(alias: "ConnectionAlias", registry: "Registry") -> tuple[str, tuple[str, ...], dict[str, str]]:
    """(fingerprint, identity field names, spec versions) of an alias as the cache keys it."""
    identity = identity_of(alias)
    versions = spec_versions(registry, alias.family)
    names = tuple(sorted(k for k in identity if k not in ("family", "alias")))
    return fingerprint({"identity": identity, "specs": versions}), names, versions


def write_catalog(root: Path, catalog: Catalog) -> Path:
    """Write the cache atomically (a reader never sees half a file); returns its path."""
    family, alias = catalog.connection.lstrip("@").split(".", 1)
    path = cache_path(root, family, alias)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(catalog.to_json(), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    write_atomically(path, text)
    return path


def read_catalog(path: Path) -> Catalog | None:
    """The cache at `path`, or None when it is missing or damaged."""
    try:
        return catalog_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class CacheStatus:
    connection: str
    state: str  # fresh | stale | mismatched | missing
    message: str
    catalog: Catalog | None = None
    age_s: float | None = None

    @property
    def usable(self) -> bool:
        """A cache the editor and validator may use: taken from this very connection (maybe old)."""
        return self.catalog is not None and self.state in ("fresh", "stale")


def parse_duration(text: str) -> float:
    """Seconds of `90`, `30s`, `15m`, `12h`, `7d`, `2w`; ValueError otherwise."""
    m = _DURATION.match(text or "")
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 12h, 7d)")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def cache_status(root: Path, alias: "ConnectionAlias", registry: "Registry", *,
                 max_age_s: float | None = None, now: dt.datetime | None = None) -> CacheStatus:
    """Is the alias's cache there, from this connection, and young enough?"""
    label = f"@{alias.family}.{alias.alias}"
    catalog = read_catalog(cache_path(root, alias.family, alias.alias))
    if catalog is None:
        return CacheStatus(label, "missing", "not discovered yet")
    expected, _, _ = connection_fingerprint(alias, registry)
    if catalog.fingerprint != expected:
        return CacheStatus(label, "mismatched", "the connection or its component specs changed since discovery", catalog)
    age = age_seconds(catalog, now)
    if max_age_s is not None and (age is None or age > max_age_s):
        return CacheStatus(label, "stale", f"discovered {describe_age(age)} ago (max age {describe_age(max_age_s)})",
                           catalog, age)
    return CacheStatus(label, "fresh", f"discovered {describe_age(age)} ago", catalog, age)


def age_seconds(catalog: Catalog, now: dt.datetime | None = None) -> float | None:
    try:
        taken = dt.datetime.fromisoformat(catalog.discovered_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, ((now or dt.datetime.now(dt.UTC)) - taken).total_seconds())


def describe_age(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def load_usable_catalogs(root: Path, aliases: Mapping[tuple[str, str], "ConnectionAlias"],
                         registry: "Registry") -> dict[tuple[str, str], Catalog]:
    """The caches of these aliases that match their connection (stale ones included)."""
    out = {}
    for key, alias in aliases.items():
        status = cache_status(root, alias, registry)
        if status.usable and status.catalog is not None:
            out[key] = status.catalog
    return out


def workspace_catalogs(connections: Any, registry: "Registry", fallback_root: Path) -> dict[tuple[str, str], Catalog]:
    """Usable caches of every alias of a connections file (None: no file, no caches)."""
    if connections is None:
        return {}
    aliases = {(family, a.alias): a for family in connections.families() for a in connections.aliases(family)}
    return load_usable_catalogs(cache_root(connections.path, fallback_root), aliases, registry)


def cache_files_signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of every cache file under `root`: changes whenever one is (re)written."""
    folder = root / ".osiris" / "discovery"
    try:
        entries = [(e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(folder)
                   if e.name.endswith(".json")]
    except OSError:
        return ()
    return tuple(sorted(entries))
