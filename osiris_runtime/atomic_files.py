"""Writing a file so that a reader sees the old content or the new, never half of either."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write `data` (text as UTF-8) beside `path`, then rename it over `path`. The temporary name
    is unique per process and thread, so concurrent writers never share one; on any failure it is
    removed and the error raised. The folder must exist."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
