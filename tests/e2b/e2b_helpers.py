"""Helpers of the e2b engine tests (imported by the tests; fixtures are in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from tests.fakes.envd import EnvdServer

REPO = Path(__file__).resolve().parents[2]
RUNNER_TESTS = REPO / "tests" / "runner"  # runner_test_drivers: test drivers a manifest can name
# Specs of the test components, so the registry names their drivers (a manifest may load no other).
E2B_SPECS = Path(__file__).parent / "specs"


def preinstall_osiris(server: EnvdServer) -> None:
    """A template with this Osiris preinstalled: its `osiris-run` on the login shell's PATH."""
    (server.sandbox.home / ".bash_profile").write_text(f'export PATH="{Path(sys.executable).parent}:$PATH"\n')
    server.sandbox.image_env["PYTHONPATH"] = str(RUNNER_TESTS)
    server.sandbox.image_env["OSIRIS_COMPONENTS_PATH"] = str(E2B_SPECS)


def osiris_run(*args: str, cwd: Path, env: Mapping[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`osiris-run ARGS` in a fresh process with this process's environment (plus `env`)."""
    full_env = {**os.environ, "PYTHONPATH": str(RUNNER_TESTS), "OSIRIS_COMPONENTS_PATH": str(E2B_SPECS), **(env or {})}
    full_env.pop("OSIRIS_CONNECTIONS", None)
    return subprocess.run([str(Path(sys.executable).parent / "osiris-run"), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return json.loads(result.stdout.strip().splitlines()[-1])


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def compiled_dir(tmp_path: Path, steps: Sequence[tuple[dict[str, Any], dict[str, Any]]], name: str = "e2b-test") -> Path:
    """A compiled pipeline (manifest.yaml + cfg/) of test-driver steps, as `osiris compile` writes one."""
    from osiris_runtime.compiler import CompiledPipeline, manifest_fingerprint

    manifest = {"name": name, "oml_version": "0.1.0",
                "plan": {"order": [s["id"] for s, _ in steps], "stages": [[s["id"]] for s, _ in steps]},
                "steps": [s for s, _ in steps], "fingerprints": {}}
    cfgs = {s["id"]: c for s, c in steps}
    manifest["fingerprints"]["manifest"] = manifest_fingerprint(manifest, cfgs)  # intact, as compile writes it
    out = tmp_path / "compiled"
    for relative, data in CompiledPipeline(manifest, cfgs).files().items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_bytes(data)
    return out


def driver_step(step_id: str, driver: str, *, mode: str = "write", needs: Sequence[str] = (), **config: Any):
    return ({"id": step_id, "component": f"test.{driver.lower()}", "component_version": "1.0.0", "mode": mode,
             "driver": f"runner_test_drivers.{driver}", "cfg_path": f"cfg/{step_id}.json", "connection": None,
             "needs": list(needs)}, config)

