"""Fixtures for the compiler tests: a registry of frozen spec copies, golden cases, a compile helper."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from osiris_runtime.compiler import CompileResult, compile_pipeline
from osiris_runtime.registry import Registry

HERE = Path(__file__).parent
SPECS = HERE / "specs"
GOLDEN = HERE / "golden"


@dataclass(frozen=True)
class GoldenCase:
    name: str
    folder: Path

    @property
    def pipeline(self) -> Path:
        return self.folder / "pipeline.yaml"

    @property
    def expected(self) -> Path:
        return self.folder / "expected"

    @property
    def args(self) -> dict[str, Any]:
        path = self.folder / "args.json"
        return json.loads(path.read_text()) if path.exists() else {}


def golden_cases() -> list[GoldenCase]:
    return [GoldenCase(p.name, p) for p in sorted(GOLDEN.iterdir()) if (p / "pipeline.yaml").exists()]


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The frozen spec copies under tests/compiler/specs: golden files don't move when components/ does."""
    return Registry([SPECS])


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the frozen specs."""
    target = tmp_path / "specs"
    shutil.copytree(SPECS, target)
    return target


@pytest.fixture
def compile_text(registry: Registry):
    def run(text: str, **kwargs: Any) -> CompileResult:
        kwargs.setdefault("source", "pipeline.yaml")
        return compile_pipeline(text, kwargs.pop("registry", registry), **kwargs)

    return run


def compile_case(case: GoldenCase, registry: Registry) -> CompileResult:
    args = case.args
    return compile_pipeline(case.pipeline.read_text(encoding="utf-8"), registry, params=args.get("params", {}),
                            env=args.get("env", {}), profile=args.get("profile"), mode=args.get("mode", "warn"),
                            source=f"{case.name}/pipeline.yaml")
