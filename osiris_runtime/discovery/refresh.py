"""Discover one alias end to end: resolve it, read the live schema, write the cache.

Shared by `osiris discover` and the language server's "Discover tables" command. Never raises for
a connection that fails: the result says why (dns, refused, timeout, auth, config, error, the
categories of `connections doctor`), with every message passed through the redactor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from osiris_runtime.discovery.cache import cache_path, cache_status, connection_fingerprint, write_catalog
from osiris_runtime.discovery.model import Catalog
from osiris_runtime.discovery.sources import Progress, build_catalog, discover_connection
from osiris_runtime.errors import OsirisError

if TYPE_CHECKING:
    from osiris_runtime.oml.connections import ConnectionAlias
    from osiris_runtime.registry import Registry
    from osiris_runtime.secrets import ConnectionResolver

DISCOVERABLE_FAMILIES = ("mysql", "supabase", "postgres", "postgresql")


@dataclass(frozen=True)
class RefreshResult:
    connection: str
    state: str  # discovered | cached | failed
    category: str  # ok | dns | refused | timeout | auth | config | error
    message: str
    catalog: Catalog | None = None
    path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.state != "failed"


def refresh_alias(alias: "ConnectionAlias", resolver: "ConnectionResolver", registry: "Registry", root: Path, *,
                  pattern: str | None = None, force: bool = False, max_age_s: float | None = None,
                  timeout: float = 10.0, progress: Progress | None = None) -> RefreshResult:
    """Discover `alias` unless a matching cache (same connection, pattern, young enough) exists."""
    from osiris_runtime.connectivity import classify
    from osiris_runtime.secrets import ConnectionTarget

    label = f"@{alias.family}.{alias.alias}"
    status = cache_status(root, alias, registry, max_age_s=max_age_s)
    if not force and status.state == "fresh" and status.catalog is not None and status.catalog.table_pattern == pattern:
        return RefreshResult(label, "cached", "ok", status.message, status.catalog, cache_path(root, alias.family, alias.alias))
    started = time.perf_counter()
    try:
        resolved = resolver.resolve(ConnectionTarget(alias.family, alias.alias))
        found = discover_connection(alias.family, resolved, timeout=timeout, pattern=pattern, progress=progress)
    except OsirisError as exc:
        return RefreshResult(label, "failed", "config", _clean(resolver, exc.message))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a category and a message
        return RefreshResult(label, "failed", classify(exc), _clean(resolver, " ".join(str(exc).split()) or type(exc).__name__))
    fingerprint, identity_fields, versions = connection_fingerprint(alias, registry)
    catalog = build_catalog(label, alias.family, found, fingerprint=fingerprint, identity_fields=identity_fields,
                            spec_versions=versions, pattern=pattern, started=started)
    path = write_catalog(root, catalog)
    return RefreshResult(label, "discovered", "ok", f"{len(catalog.tables)} tables in {catalog.duration_ms:.0f} ms",
                         catalog, path)


def _clean(resolver: "ConnectionResolver", message: str) -> str:
    return str(resolver.redactor.redact(message))[:300]
