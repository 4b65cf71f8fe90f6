"""The VS Code extension's pure parts (server command, settings, result lines) under `node --test`."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.editor


def test_extension_library_passes_its_node_tests(node, extension_src):
    proc = subprocess.run([node, "--test", str(extension_src / "test")], cwd=extension_src,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout
