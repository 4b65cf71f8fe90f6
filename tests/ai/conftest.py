"""Fixtures of the AI tests: an isolated workspace with the four seed components, the fake chat endpoint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from osiris_runtime.registry import BUILTIN_COMPONENTS_DIR, Registry
from tests.fakes import openai_chat as fake_chat

SEED_COMPONENTS = ("mysql.extractor", "mysql.writer", "supabase.extractor", "supabase.writer")
API_KEY = "sk-osiris-test-4f9c2d7e1b"
INLINE_PASSWORD = "Hunter2-inline-secret"




@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("ai-home")
    monkeypatch.setenv("OSIRIS_CACHE_DIR", str(home / "cache"))
    for name in ("OSIRIS_COMPONENTS_PATH", "OSIRIS_CONNECTIONS", "OSIRIS_HOME", "OSIRIS_SYSTEM_PROMPT",
                 "OSIRIS_LLM_BASE_URL", "OSIRIS_LLM_MODEL", "OSIRIS_LLM_API_KEY", "OSIRIS_LLM_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return home


def seed_specs(target: Path) -> Path:
    """A components folder holding exactly the four seed components."""
    for name in SEED_COMPONENTS:
        (target / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(BUILTIN_COMPONENTS_DIR / name / "spec.yaml", target / name / "spec.yaml")
    return target


@pytest.fixture
def seed_registry(tmp_path: Path) -> Registry:
    return Registry([seed_specs(tmp_path / "seed-components")])


@pytest.fixture
def builtin_registry() -> Registry:
    return Registry([BUILTIN_COMPONENTS_DIR])


CONNECTIONS_YAML = """connections:
  mysql:
    shop: {default: true, host: 127.0.0.1, database: shop, user: reader, password: "${MYSQL_PASSWORD}"}
  supabase:
    main: {default: true, url: "https://abcd.supabase.co", key: "${SUPABASE_KEY}"}
    analytics: {url: "https://wxyz.supabase.co", key: "${SUPABASE_KEY}"}
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A project folder with a connections file (aliases mysql.shop, supabase.main, supabase.analytics)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "osiris_connections.yaml").write_text(CONNECTIONS_YAML)
    return root


@pytest.fixture
def chat_server() -> Iterator["fake_chat.FakeChatServer"]:
    server = fake_chat.FakeChatServer(api_key=API_KEY).start()
    try:
        yield server
    finally:
        server.stop()


def osiris(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_LLM_")}
    full_env.update({"NO_COLOR": "1", "COLUMNS": "200"})
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "osiris_runtime.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, input=stdin, timeout=timeout)


def llm_env(server: "fake_chat.FakeChatServer", **extra: str) -> dict[str, str]:
    return {"OSIRIS_LLM_BASE_URL": server.base_url, "OSIRIS_LLM_MODEL": fake_chat.MODEL, "OSIRIS_LLM_API_KEY": API_KEY,
            **extra}


def files_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
