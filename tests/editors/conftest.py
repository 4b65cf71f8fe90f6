"""Fixtures for the real-editor tests (marker `editor`): where the tools are, which server to
start, and a small broken OML workspace. The tools come from `make editor-deps`
(tests/editors/setup-editor-deps.sh); under CI a missing tool fails the test, elsewhere it skips."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EDITOR_CACHE = Path(os.environ.get("OSIRIS_EDITOR_CACHE", Path.home() / ".cache" / "osiris-editors"))
CODE_SERVER_VERSION = os.environ.get("CODE_SERVER_VERSION", "4.100.3")

# A pipeline with one error (a misspelt component) and an empty `component:` to complete.
BROKEN_PIPELINE = """\
oml_version: "0.1.0"
name: editor-check
steps:
  - id: extract-orders
    component: mysql.extractr
    mode: read
    config:
      query: "SELECT id FROM orders"
  - id: load-orders
    component: 
"""


@dataclass(frozen=True)
class BrokenPipeline:
    """`broken.oml.yaml` in a workspace folder, and where the tests look and type in it."""
    workspace: Path
    path: Path
    broken_line: int          # 0-based line of `component: mysql.extractr`
    fixed_text: str           # that line, corrected
    complete_at: tuple[int, int]   # 0-based (line, column) after the empty `component: `


def require_tool(path: Path | str | None, what: str) -> str:
    """The tool's path, or skip (fail under CI) with how to install it."""
    if path and Path(path).exists():
        return str(path)
    message = f"{what} is missing: run `make editor-deps`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class ServerUnderTest:
    command: tuple[str, ...]
    is_real: bool      # False while osiris_lsp.server has not landed: the probe stand-in runs


@pytest.fixture(scope="session")
def server_under_test() -> ServerUnderTest:
    if importlib.util.find_spec("osiris_lsp.server") is not None:
        return ServerUnderTest((sys.executable, "-m", "osiris_lsp"), True)
    return ServerUnderTest((sys.executable, str(HERE / "probe_server.py")), False)


@pytest.fixture
def broken_pipeline(tmp_path: Path) -> BrokenPipeline:
    """A workspace folder holding only `broken.oml.yaml` (no connections file)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    path = ws / "broken.oml.yaml"
    path.write_text(BROKEN_PIPELINE)
    return BrokenPipeline(ws, path, 4, "    component: mysql.extractor", (9, len("    component: ")))


@pytest.fixture(scope="session")
def editor_tests_dir() -> Path:
    return HERE


@pytest.fixture(scope="session")
def nvim() -> str:
    return require_tool(shutil.which("nvim"), "Neovim (apt package neovim)")


@pytest.fixture(scope="session")
def node() -> str:
    return require_tool(shutil.which("node"), "Node.js")
