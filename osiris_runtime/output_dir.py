"""The directories Osiris writes into (`osiris compile --out`, a run directory): what Osiris writes
there must be fresh or Osiris's own earlier output, and never reached through a link.

Checked before anything is written: a stale `cfg/<id>.json` is removed only when the directory's
own manifest names it (another file in `cfg/` is refused, never deleted), and no write can follow
a link (`cfg -> /elsewhere`, `events.jsonl -> ~/.bashrc`) out of the directory. Other top-level
files (`notes.txt`) are neither read nor touched.
"""

from __future__ import annotations

import os
from pathlib import Path

from osiris_runtime.errors import ConfigError

MANIFEST_FILE = "manifest.yaml"
CFG_DIR = "cfg"
# The codes of a refusal, per kind of output directory: (links, foreign files, unusable).
CODES = {
    "compiled directory": ("compile.out-dir-links", "compile.out-dir-not-empty", "compile.out-dir-unusable"),
    "run directory": ("run.out-dir-links", "run.out-dir-not-empty", "run.out-dir-unusable"),
}
# Files of a compiled directory or a run directory, at its top level.
OSIRIS_FILES = frozenset({MANIFEST_FILE, "events.jsonl", "metrics.json", "status.json"})


def _leftover_of(name: str, own: set[str] | frozenset[str]) -> bool:
    """`.<name>.tmp`, the temporary file of an atomic write that was interrupted."""
    return name.startswith(".") and name.endswith(".tmp") and name[1:-4] in own


# A manifest's exact bytes and the cfg names they give: what a caller about to write that very
# manifest already knows, so the common re-compile of an unchanged pipeline skips the parse.
KnownManifest = tuple[bytes, frozenset[str]]


def _cfgs_named_by_manifest(out_dir: Path, known: KnownManifest | None = None) -> set[str]:
    # The parser that reads pipelines (already loaded by a compile; a ruamel `YAML()` loader costs
    # several ms more per call). A manifest it cannot read whole names nothing.
    path = out_dir / MANIFEST_FILE
    if path.is_symlink() or not path.is_file():
        return set()
    try:
        data = path.read_bytes()
    except OSError:
        return set()
    if known is not None and data == known[0]:
        return set(known[1])  # byte for byte the manifest they name: parsing it would give the same
    from osiris_runtime.oml.yaml_tree import parse_yaml

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return set()
    tree = parse_yaml(text, max_chars=len(text))  # our own output: no size limit beyond the file's
    if any(d.is_error for d in tree.diagnostics):
        return set()
    manifest = tree.data
    steps = manifest.get("steps") if isinstance(manifest, dict) else None
    names = set()
    for step in steps if isinstance(steps, list) else ():
        cfg_path = step.get("cfg_path") if isinstance(step, dict) else None
        if isinstance(cfg_path, str) and cfg_path.startswith(f"{CFG_DIR}/") and "/" not in cfg_path[len(CFG_DIR) + 1:]:
            names.add(cfg_path[len(CFG_DIR) + 1:])
    return names


def foreign_entries(out_dir: Path, known: KnownManifest | None = None) -> tuple[list[str], list[str]]:
    """(links, foreign entries) among the paths Osiris would write in `out_dir`, relative to it;
    `known`: a manifest's bytes and the cfgs it names, trusted when the directory's is those bytes."""
    links: list[str] = []
    unknown: list[str] = []
    own_cfgs = _cfgs_named_by_manifest(out_dir, known)
    with os.scandir(out_dir) as entries:
        for entry in entries:
            ours = entry.name == CFG_DIR or entry.name in OSIRIS_FILES or _leftover_of(entry.name, OSIRIS_FILES)
            if not ours:
                continue  # never written, never deleted
            if entry.is_symlink():
                links.append(entry.name)
            elif entry.name == CFG_DIR and entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as cfgs:
                    for cfg in cfgs:
                        relative = f"{CFG_DIR}/{cfg.name}"
                        if not cfg.name.endswith((".json", ".tmp")):
                            continue  # `cfg/README`: never written, never deleted
                        if cfg.is_symlink():
                            links.append(relative)
                        elif not cfg.is_file(follow_symlinks=False) or not (
                                cfg.name in own_cfgs or _leftover_of(cfg.name, own_cfgs)):
                            unknown.append(relative)  # a .json no manifest here names would be deleted
            elif entry.name == CFG_DIR or not entry.is_file(follow_symlinks=False):
                unknown.append(entry.name)  # one of our names, but `cfg` is not a folder or a file is not a file
    return sorted(links), sorted(unknown)


def check_output_dir(out_dir: Path, *, what: str, known: KnownManifest | None = None) -> None:
    """`ConfigError` (exit 5) unless what Osiris writes in `out_dir` is new or its own earlier output.

    `what` is "compiled directory" or "run directory" (it picks the codes, see `CODES`); `known`
    as for `foreign_entries`."""
    links_code, foreign_code, unusable_code = CODES[what]
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ConfigError(f"cannot use {out_dir} as the {what}: it exists and is not a directory",
                          code=unusable_code, fix="pass a new or empty directory")
    try:
        links, unknown = foreign_entries(out_dir, known)
    except OSError as exc:
        raise ConfigError(f"cannot use {out_dir} as the {what}: {exc.strerror or exc}", code=unusable_code,
                          fix="pass a new or empty directory") from None
    if links:
        raise ConfigError(f"{out_dir} holds links ({', '.join(links[:3])}{', ...' if len(links) > 3 else ''}); "
                          f"Osiris never writes through a link in the {what}", code=links_code,
                          fix="remove the links, or pass a new or empty directory")
    if unknown:
        raise ConfigError(f"{out_dir} holds files Osiris did not write ({', '.join(unknown[:3])}"
                          f"{', ...' if len(unknown) > 3 else ''}) where the {what} goes; they would be replaced or deleted",
                          code=foreign_code, fix="pass a new or empty directory (or one an earlier compile or run wrote)")
