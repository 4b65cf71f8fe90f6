"""The documentation site builds with `mkdocs build --strict`: a broken link, a missing anchor, a
page left out of the nav or a failing generated reference fails this test."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_site_builds_strictly(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=240)
    problems = [line for line in done.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert done.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(problems or done.stderr.splitlines()[-30:])
    site = tmp_path / "site"
    # the generated references are there and not empty
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "osiris oml validate" in cli and "--strict" in cli
    registry = (site / "reference" / "api" / "registry" / "index.html").read_text(encoding="utf-8")
    assert "osiris_runtime.registry.Registry" in registry
    codes = (site / "reference" / "diagnostic-codes" / "index.html").read_text(encoding="utf-8")
    assert 'href="../../diagnostics/#oml.unknown-component"' in codes
    troubleshooting = (site / "diagnostics" / "index.html").read_text(encoding="utf-8")
    assert 'id="oml.unknown-component"' in troubleshooting
    assert "spec.schema.json" in (site / "reference" / "spec-schema" / "index.html").read_text(encoding="utf-8")
