"""Fixtures of the runner tests: hand-written manifests run through the real local engine.

Test drivers live in `runner_test_drivers.py` beside this file; it is put on sys.path so a
manifest can name them by dotted path, exactly as a spec's x-runtime.driver does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from osiris_runtime.compiler import CompiledPipeline  # noqa: E402
from osiris_runtime.runner.engine import RunOptions, RunSummary, run_with  # noqa: E402
from osiris_runtime.runner.local import LocalEngine  # noqa: E402

FAKES = "runner_test_drivers"
HERE = Path(__file__).parent


def step(step_id: str, driver: str, *, mode: str = "extract", needs: Sequence[str] = (), component: str | None = None,
         connection: str | None = None, **config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One manifest step and its cfg; `driver` is a class name in runner_test_drivers or a dotted path."""
    dotted = driver if "." in driver else f"{FAKES}.{driver}"
    return (
        {"id": step_id, "component": component or f"test.{driver.lower()}", "component_version": "1.0.0", "mode": mode,
         "driver": dotted, "cfg_path": f"cfg/{step_id}.json", "connection": connection, "needs": list(needs)},
        config,
    )


def pipeline(*steps: tuple[dict[str, Any], dict[str, Any]], name: str = "runner-test") -> CompiledPipeline:
    manifest = {
        "name": name,
        "oml_version": "0.1.0",
        "plan": {"order": [s["id"] for s, _ in steps], "stages": [[s["id"]] for s, _ in steps]},
        "steps": [s for s, _ in steps],
        "fingerprints": {"manifest": "sha256:test"},
    }
    return CompiledPipeline(manifest, {s["id"]: cfg for s, cfg in steps})


@pytest.fixture
def run_pipeline(tmp_path: Path):
    """Run a CompiledPipeline with the local engine into tmp_path/run; returns the summary."""

    def run(compiled: CompiledPipeline, registry: Any = None, **options: Any) -> RunSummary:
        options.setdefault("run_dir", tmp_path / "run")
        options.setdefault("work_dir", tmp_path)
        return run_with(LocalEngine(registry), compiled, RunOptions(**options))

    return run


def read_events(run_dir: Path) -> list[Mapping[str, Any]]:
    import json

    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def osiris(*args: str, cwd: Path, env: dict[str, str] | None = None, headless: bool = False) -> subprocess.CompletedProcess[str]:
    entry = "headless_run" if headless else "main"
    full_env = {**os.environ, "PYTHONPATH": str(HERE), "OSIRIS_COMPONENTS_PATH": str(HERE / "specs"), **(env or {})}
    full_env.pop("OSIRIS_CONNECTIONS", None)
    return subprocess.run([sys.executable, "-c", f"from osiris_runtime.cli.main import {entry}; {entry}()", *args],
                          cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)
