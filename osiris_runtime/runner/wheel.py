"""A wheel of the installed Osiris, for sandboxes that do not have it (the e2b engine uploads it).

Built from the running installation, not from a source tree: the package folders
(`osiris_runtime`, `osiris_lsp`, specs included) plus the distribution's own METADATA and entry
points, so `pip install` in the sandbox gets the same code, the same dependencies and the same
`osiris-run` script. The wheel is cached under `<cache>/wheels/<version>-<digest>/`: the digest of
the packaged files keeps an edited development checkout from reusing a stale wheel of the same
version.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import zipfile
from pathlib import Path
from typing import Iterator

DISTRIBUTION = "osiris-oml"
PACKAGES = ("osiris_runtime", "osiris_lsp")


def installed_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        from osiris_runtime import __version__

        return __version__


def _package_files() -> Iterator[tuple[str, Path]]:
    """(path inside the wheel, file on disk) for every file of the packages, bytecode left out."""
    import importlib

    for name in PACKAGES:
        root = Path(importlib.import_module(name).__file__ or "").parent
        found = []
        # followlinks: in a checkout, builtin_components is a link to the repository's components/
        for folder, dirs, files in os.walk(root, followlinks=True):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            found += [Path(folder) / f for f in files if not f.endswith((".pyc", ".pyo"))]
        for path in sorted(found):
            yield f"{name}/{path.relative_to(root).as_posix()}", path


def _dist_info_files(version: str) -> dict[str, bytes]:
    """METADATA, WHEEL and entry_points.txt, rebuilt from whatever metadata the installation has
    (a wheel's dist-info, an editable install's, or a checkout's egg-info)."""
    dist = importlib.metadata.distribution(DISTRIBUTION)
    meta = dist.metadata
    lines = ["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {version}"]
    lines += [f"{key}: {meta[key]}" for key in ("Summary", "License", "Requires-Python") if meta.get(key)]
    lines += [f"Requires-Dist: {requirement}" for requirement in dist.requires or ()]
    groups: dict[str, list[str]] = {}
    for entry in dist.entry_points:
        groups.setdefault(entry.group, []).append(f"{entry.name} = {entry.value}")
    entry_points = "".join(f"[{group}]\n" + "".join(f"{e}\n" for e in sorted(items)) + "\n"
                           for group, items in sorted(groups.items()))
    return {
        "METADATA": ("\n".join(lines) + "\n").encode(),
        "WHEEL": "Wheel-Version: 1.0\nGenerator: osiris\nRoot-Is-Purelib: true\nTag: py3-none-any\n".encode(),
        "entry_points.txt": entry_points.encode(),
    }


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_name(version: str) -> str:
    return f"{DISTRIBUTION.replace('-', '_')}-{version}-py3-none-any.whl"


def cached_wheel(cache_dir: Path) -> Path:
    """The path of a wheel of the installed Osiris, building it once per version and content."""
    version = installed_version()
    contents = [(arcname, path.read_bytes()) for arcname, path in _package_files()]
    digest = hashlib.sha256()
    for arcname, data in contents:
        digest.update(arcname.encode() + b"\0" + hashlib.sha256(data).digest())
    target = cache_dir / "wheels" / f"{version}-{digest.hexdigest()[:12]}" / wheel_name(version)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    dist_info = f"{DISTRIBUTION.replace('-', '_')}-{version}.dist-info"
    entries = contents + [(f"{dist_info}/{name}", data) for name, data in _dist_info_files(version).items()]
    record = "".join(f"{arcname},{_record_hash(data)},{len(data)}\n" for arcname, data in entries)
    record += f"{dist_info}/RECORD,,\n"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries:
            zf.writestr(arcname, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    os.replace(tmp, target)
    return target


def default_cache_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ if env is None else env)
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "osiris"
