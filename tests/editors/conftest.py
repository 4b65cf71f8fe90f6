"""Fixtures for the real-editor tests (marker `editor`): where the tools are, which server to
start, and a small broken OML workspace. The tools come from `make editor-deps`
(tests/editors/setup-editor-deps.sh); under CI a missing tool fails the test, elsewhere it skips."""

from __future__ import annotations

import os
import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EDITOR_CACHE = Path(os.environ.get("OSIRIS_EDITOR_CACHE", Path.home() / ".cache" / "osiris-editors"))
CODE_SERVER_VERSION = os.environ.get("CODE_SERVER_VERSION", "4.100.3")

# A pipeline with a misspelt component and an unfinished last step (`component:` to complete).
BROKEN_PIPELINE = """\
oml_version: "0.1.0"
name: editor-check
steps:
  - id: extract-orders
    component: mysql.extractr
    mode: read
    config:
      connection: "@mysql.shop"
      query: "SELECT id FROM orders"
  - id: load-orders
    component: 
"""
GOOD_PIPELINE = """\
oml_version: "0.1.0"
name: editor-good
steps:
  - id: extract-orders
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: "SELECT id FROM orders"
  - id: load-orders
    component: mysql.writer
    mode: write
    needs: [extract-orders]
    config:
      connection: "@mysql.shop"
      table: orders_copy
"""
CONNECTIONS = """\
connections:
  mysql:
    shop:
      default: true
      host: 127.0.0.1
      database: shop
      user: reader
      password: ${MYSQL_SHOP_PASSWORD}
"""


@dataclass(frozen=True)
class BrokenPipeline:
    """`broken.oml.yaml` in a workspace folder, and where the tests look and type in it."""
    workspace: Path
    path: Path
    broken_line: int          # 0-based line of `component: mysql.extractr`
    fixed_text: str           # that line, corrected
    complete_at: tuple[int, int]   # 0-based (line, column) after the empty `component: `
    good_path: Path           # a valid pipeline beside it (`good.oml.yaml`), to compile


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


@pytest.fixture(scope="session")
def server_under_test() -> ServerUnderTest:
    """The real server, from the interpreter running the tests (the project's venv)."""
    return ServerUnderTest((sys.executable, "-m", "osiris_lsp"))


@pytest.fixture
def broken_pipeline(tmp_path: Path) -> BrokenPipeline:
    """A workspace folder with `broken.oml.yaml` and the connections file it refers to."""
    ws = tmp_path / "ws"
    ws.mkdir()
    path = ws / "broken.oml.yaml"
    path.write_text(BROKEN_PIPELINE)
    (ws / "osiris_connections.yaml").write_text(CONNECTIONS)
    good = ws / "good.oml.yaml"
    good.write_text(GOOD_PIPELINE)
    return BrokenPipeline(ws, path, 4, "    component: mysql.extractor", (10, len("    component: ")), good)


@dataclass(frozen=True)
class EditorTools:
    """Paths of what `make editor-deps` installs; each getter skips (fails under CI) if absent."""
    cache: Path

    def code_server(self) -> str:
        path = self.cache / f"code-server-{CODE_SERVER_VERSION}" / "node_modules" / ".bin" / "code-server"
        return require_tool(path, f"code-server {CODE_SERVER_VERSION}")

    def vsce(self) -> str:
        return require_tool(self.cache / "tools" / "node_modules" / ".bin" / "vsce", "@vscode/vsce")

    def playwright_core(self) -> str:
        return require_tool(self.cache / "tools" / "node_modules" / "playwright-core", "playwright-core")

    def chromium(self) -> str:
        return require_tool(shutil.which("chromium"), "chromium (apt package chromium)")


@pytest.fixture(scope="session")
def editor_tools() -> EditorTools:
    return EditorTools(EDITOR_CACHE)


@pytest.fixture(scope="session")
def nvim() -> str:
    return require_tool(shutil.which("nvim"), "Neovim (apt package neovim)")


@pytest.fixture(scope="session")
def tmux() -> str:
    return require_tool(shutil.which("tmux"), "tmux (apt package tmux)")


@pytest.fixture(scope="session")
def node() -> str:
    return require_tool(shutil.which("node"), "Node.js")


EXTENSION_SRC = REPO / "editors" / "vscode"


def run(cmd: list[str], cwd: Path, timeout: int = 300, env: dict | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="session")
def editor_repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def extension_src() -> Path:
    return EXTENSION_SRC


@pytest.fixture(scope="session")
def vscode_modules() -> Path:
    """editors/vscode/node_modules, installed by `make vscode-modules` (npm ci from package-lock.json)."""
    modules = EXTENSION_SRC / "node_modules"
    return Path(require_tool(modules / ".bin" / "vsce" if modules.is_dir() else None,
                             "editors/vscode/node_modules (run `make vscode-modules`)")).parents[1]


@pytest.fixture(scope="session")
def vsix(tmp_path_factory, node, vscode_modules) -> Path:
    """editors/vscode packaged as it ships: type-checked, bundled and packaged by `npm run package`,
    in a copy of the sources (the work tree stays clean) that uses the installed node_modules."""
    build = tmp_path_factory.mktemp("vsix") / "vscode"
    shutil.copytree(EXTENSION_SRC, build, ignore=shutil.ignore_patterns("node_modules", "*.vsix", "dist", "out"))
    (build / "node_modules").symlink_to(vscode_modules)
    run(["npm", "run", "package"], build)
    return build / "osiris-oml.vsix"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"code-server exited with {proc.returncode}"
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"code-server did not answer on {url} within {seconds} s")


BASE_SETTINGS = {
    "workbench.startupEditor": "none", "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off", "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False, "update.mode": "none", "workbench.tips.enabled": False,
    "workbench.enableExperiments": False, "chat.commandCenter.enabled": False,
}


@pytest.fixture
def vscode_workspace(broken_pipeline) -> Path:
    """The folder code-server opens (tests may override this fixture)."""
    return broken_pipeline.workspace


@pytest.fixture
def vscode_settings(server_under_test) -> dict:
    """User settings; the documented route: a Python with osiris_lsp installed (`python -m osiris_lsp`)."""
    return {"osiris.pythonPath": server_under_test.command[0]}


@pytest.fixture
def code_server_env() -> dict[str, str]:
    """Extra environment of code-server (its extension host and the language server inherit it)."""
    return {}


@dataclass(frozen=True)
class CodeServer:
    url: str
    settings_file: Path  # rewrite it to change settings while VS Code runs
    log: Path


@pytest.fixture
def code_server(tmp_path, vsix, vscode_workspace, vscode_settings, code_server_env, editor_tools):
    """code-server with our .vsix installed, serving `vscode_workspace`."""
    binary = editor_tools.code_server()
    data, extensions = tmp_path / "cs-data", tmp_path / "cs-ext"
    user = data / "User"
    user.mkdir(parents=True)
    (user / "settings.json").write_text(json.dumps({**BASE_SETTINGS, **vscode_settings}, indent=1))
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"), "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
           **code_server_env}
    dirs = ["--user-data-dir", str(data), "--extensions-dir", str(extensions)]
    installed = run([binary, *dirs, "--install-extension", str(vsix)], tmp_path, timeout=120, env=env)
    assert "successfully installed" in installed, installed
    port = free_port()
    log = (tmp_path / "code-server.log").open("w")
    # Its own process group: stopping code-server alone would orphan its file watcher.
    proc = subprocess.Popen(
        [binary, *dirs, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
         "--disable-update-check", "--disable-workspace-trust", str(vscode_workspace)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield CodeServer(f"http://127.0.0.1:{port}/?folder={vscode_workspace}", user / "settings.json",
                         tmp_path / "code-server.log")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


