"""Built-in specs ship inside the wheel, and an installed copy lists them outside the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from osiris_runtime.registry import BUILTIN_COMPONENTS_DIR, find_spec_files

from .conftest import BUILTIN_NAMES

REPO = BUILTIN_COMPONENTS_DIR.resolve().parent
BUILD_INPUTS = ("pyproject.toml", "README.md", "osiris_runtime", "osiris_lsp", "components")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built with `pip wheel --no-deps` from a copy of the sources (the work tree stays clean)."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, src / name)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(src)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    (built,) = out.glob("*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_contains_every_builtin_spec_and_the_schema(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "osiris_runtime/builtin_components/spec.schema.json" in names
    for spec_file in find_spec_files([BUILTIN_COMPONENTS_DIR]):
        assert f"osiris_runtime/builtin_components/{spec_file.parent.name}/{spec_file.name}" in names


@pytest.mark.slow
def test_an_installed_wheel_lists_the_components_outside_the_repository(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "OSIRIS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("OSIRIS_COMPONENTS_PATH", None)
    where = subprocess.run([sys.executable, "-c", "import osiris_runtime; print(osiris_runtime.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(target))  # the installed copy, not the checkout
    listed = subprocess.run([sys.executable, "-m", "osiris_runtime.cli.main", "components", "list", "--json"],
                            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert set(BUILTIN_NAMES) <= set(rows)
    assert all(row["path"].startswith(str(target)) for row in rows.values())
