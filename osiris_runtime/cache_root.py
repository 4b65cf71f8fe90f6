"""Where Osiris keeps its caches: `$OSIRIS_CACHE_DIR`, else `$XDG_CACHE_HOME/osiris`, else `~/.cache/osiris`.

Stdlib only (no pathlib): the CLI asks for it before anything else is imported."""

from __future__ import annotations

import os
from typing import Mapping


def cache_root(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("OSIRIS_CACHE_DIR"):
        return env["OSIRIS_CACHE_DIR"]
    base = env["XDG_CACHE_HOME"] if env.get("XDG_CACHE_HOME") else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "osiris")
