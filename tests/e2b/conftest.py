"""Fixtures of the e2b engine tests: the real e2b SDK in debug mode against the fake envd.

`envd` starts `tests/fakes/envd.py` on loopback with a temporary sandbox home and points the SDK
at it through its own environment (`E2B_DEBUG`, `E2B_SANDBOX_URL`), exactly as a user would.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from e2b_helpers import EnvdServer, preinstall_osiris  # noqa: E402


@pytest.fixture
def envd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EnvdServer]:
    server = EnvdServer(tmp_path / "sandbox-home")
    monkeypatch.setenv("E2B_DEBUG", "true")
    monkeypatch.setenv("E2B_SANDBOX_URL", server.url)
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    try:
        yield server
    finally:
        server.stop()



@pytest.fixture
def sandbox(envd: EnvdServer) -> EnvdServer:
    """The fake sandbox of a template with this Osiris preinstalled."""
    preinstall_osiris(envd)
    return envd
