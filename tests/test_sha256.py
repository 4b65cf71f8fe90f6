"""osiris_runtime.sha256 gives hashlib's SHA-256 digests (incremental updates and copies included)."""

import hashlib

from osiris_runtime.sha256 import sha256


def test_the_digests_are_hashlibs():
    for data in (b"", b"abc", bytes(range(256)) * 300, "spéc: ✓".encode()):
        assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    prefix = sha256(b"prefix\0")
    copy = prefix.copy()
    copy.update(b"content")
    assert copy.hexdigest() == hashlib.sha256(b"prefix\0content").hexdigest()
    assert prefix.hexdigest() == hashlib.sha256(b"prefix\0").hexdigest()
