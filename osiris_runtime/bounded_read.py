"""Reading an input file (pipeline, manifest, cfg, connections or secrets file) without ever
reading more than a limit: `/dev/zero`, a link to it or a multi-GB file is refused after
`limit + 1` bytes, never read whole first."""

from __future__ import annotations

from pathlib import Path

from osiris_runtime.oml.yaml_tree import MAX_CHARS

# UTF-8 needs at most 4 bytes per character: the byte budget of MAX_CHARS characters.
MAX_INPUT_BYTES = 4 * MAX_CHARS


class FileTooLarge(OSError):
    """The file holds more than the limit (only `limit + 1` bytes were read)."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(27, f"more than {limit:,} bytes; the limit is {limit:,}", str(path))
        self.limit = limit


def read_limited(path: Path, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The file's bytes; `FileTooLarge` (an OSError) past `limit`, other OSErrors as raised."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(Path(path), limit)
    return data
