"""The VS Code extension's own checks: `tsc --noEmit` and its unit tests (interpreter lookup,
settings, result rendering, the Runs view model) under `node --test`, through `npm test`."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.editor


def test_extension_type_checks_and_passes_its_unit_tests(node, extension_src, vscode_modules):
    proc = subprocess.run(["npm", "test"], cwd=extension_src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout and "# pass 0" not in proc.stdout
