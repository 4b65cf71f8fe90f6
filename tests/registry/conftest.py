"""Fixtures of the registry tests: isolated search paths, spec writers, a CLI runner."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from osiris_runtime.registry import BUILTIN_COMPONENTS_DIR, read_spec_file

BUILTIN_NAMES = ("mysql.extractor", "mysql.writer", "supabase.extractor", "supabase.writer")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user cache, no OSIRIS_COMPONENTS_PATH, and a cwd without a components/ folder."""
    home = tmp_path_factory.mktemp("registry-home")
    monkeypatch.setenv("OSIRIS_CACHE_DIR", str(home / "cache"))
    monkeypatch.delenv("OSIRIS_COMPONENTS_PATH", raising=False)
    monkeypatch.chdir(home)
    return home


def minimal_spec(name: str = "acme.extractor", **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "version": "1.0.0",
        "modes": ["extract"],
        "capabilities": {"discover": False},
        "configSchema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["table"],
            "properties": {"table": {"type": "string", "minLength": 1}, "batch_size": {"type": "integer", "minimum": 1}},
        },
        "examples": [{"title": "Read a table", "config": {"table": "orders"}}],
    }
    spec.update(overrides)
    return spec


def builtin_spec(name: str) -> dict[str, Any]:
    """A deep copy of a built-in spec, as plain data, to derive variants from."""
    return copy.deepcopy(read_spec_file(BUILTIN_COMPONENTS_DIR / name / "spec.yaml"))


SpecWriter = Callable[..., Path]


@pytest.fixture
def write_spec() -> SpecWriter:
    """write_spec(root, data_or_text, folder=None, filename="spec.yaml") -> path of the written spec."""

    def write(root: Path, data: dict[str, Any] | str, folder: str | None = None, filename: str = "spec.yaml") -> Path:
        folder = folder or (data["name"] if isinstance(data, dict) else "broken")
        path = root / folder / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        text = data if isinstance(data, str) else json.dumps(data, indent=2)  # JSON is valid YAML
        path.write_text(text, encoding="utf-8")
        return path

    return write
