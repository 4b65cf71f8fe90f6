"""SHA-256 for fingerprints and cache keys, without `import hashlib` where the interpreter has its own.

`hashlib` loads OpenSSL when imported: about 11 M instructions, a tenth of what a CLI start spends
beyond the interpreter's own. `_sha256` (`_sha2` from Python 3.12) is CPython's built-in SHA-256,
the one hashlib itself falls back to without OpenSSL: the same digests (tests/test_sha256.py).
"""

from __future__ import annotations

try:
    from _sha256 import sha256
except ImportError:  # pragma: no cover - Python 3.12+, or another interpreter
    try:
        from _sha2 import sha256  # type: ignore[no-redef]
    except ImportError:
        from hashlib import sha256  # type: ignore[assignment]

__all__ = ["sha256"]
