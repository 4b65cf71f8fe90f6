"""The install path: a sandbox without Osiris gets a wheel of the installed Osiris, built here
(cached by version), installed into a virtual environment: offline, nothing fetched."""

from __future__ import annotations

import json
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from e2b_helpers import REPO, osiris_run, read_events, summary_of

from osiris_runtime.runner.wheel import cached_wheel, installed_version, wheel_name

pytestmark = pytest.mark.slow

# What a template may already hold: the dependencies, never Osiris (nor pip's own packaging).
NOT_DEPENDENCIES = ("osiris_runtime", "osiris_lsp", "osiris_oml", "__editable__", "pip", "setuptools", "wheel",
                    "_distutils_hack", "distutils-precedence", "_pytest", "pytest")


@pytest.fixture
def bare_sandbox(envd, tmp_path):
    """A sandbox image with Python and the dependencies of Osiris, but no Osiris, and no network for pip."""
    deps = tmp_path / "image-site-packages"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(NOT_DEPENDENCIES) and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    base_bin = Path(getattr(sys, "_base_executable", sys.executable)).parent
    (envd.sandbox.home / ".bash_profile").write_text(f'export PATH="{base_bin}:$PATH"\n')
    envd.sandbox.image_env.update({"PYTHONPATH": str(deps), "PIP_NO_INDEX": "1", "PIP_NO_CACHE_DIR": "1"})
    return envd


def test_the_wheel_holds_the_packages_the_specs_and_the_entry_points(tmp_path):
    wheel = cached_wheel(tmp_path)
    assert wheel.name == wheel_name(installed_version())
    names = zipfile.ZipFile(wheel).namelist()
    assert "osiris_runtime/runner/e2b.py" in names and "osiris_lsp/server.py" in names
    assert any(n.startswith("osiris_runtime/builtin_components/mysql.extractor/") for n in names)
    assert not any("__pycache__" in n for n in names)
    dist_info = f"osiris_oml-{installed_version()}.dist-info"
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "osiris-run = osiris_runtime.cli.main:headless_run" in entry_points
    assert b"Requires-Dist: e2b==2.63.0" in zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA")
    assert cached_wheel(tmp_path) == wheel and wheel.stat().st_mtime_ns == cached_wheel(tmp_path).stat().st_mtime_ns


def test_a_sandbox_without_osiris_gets_it_installed_and_runs_the_quickstart(bare_sandbox, tmp_path):
    import shutil

    shutil.copytree(REPO / "examples" / "quickstart", tmp_path / "qs", ignore=shutil.ignore_patterns("out", ".osiris"))
    cache = tmp_path / "cache"
    result = osiris_run(str(tmp_path / "qs" / "pipeline.yaml"), "--engine", "e2b", "--json", cwd=tmp_path,
                        env={"XDG_CACHE_HOME": str(cache)}, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = summary_of(result)
    assert summary["totals"]["rows_written"] == 8
    assert (tmp_path / "qs" / "out" / "revenue_by_country.csv").read_text().startswith("country,orders,revenue")
    status = json.loads((Path(summary["run_dir"]) / "status.json").read_text())
    assert status["sandbox"]["osiris"] == "installed" and status["sandbox"]["timings_ms"]["install"] > 0
    version = installed_version()
    wheel = f"/home/user/.osiris/wheels/{wheel_name(version)}"
    assert bare_sandbox.sandbox.uploads[wheel] == next(cache.rglob("*.whl")).read_bytes()
    commands = [c.cmd for c in bare_sandbox.sandbox.commands]
    assert commands[0].startswith("osiris-run --version")
    assert "python3 -m venv /home/user/.osiris/venv" in commands[1] and wheel in commands[1]
    assert "/home/user/.osiris/venv/bin/osiris-run" in commands[2]
    events = [e["event"] for e in read_events(Path(summary["run_dir"]))]
    assert events.index("sandbox_install_start") < events.index("sandbox_install_end") < events.index("step_start")
    assert f"installing Osiris {version}" in result.stderr  # the progress line
