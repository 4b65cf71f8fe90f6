"""VS Code for real: our .vsix in code-server, driven through headless chromium by playwright-core.

Slow (about half a minute), so one test walks through what a user does: open a broken pipeline
(language mode, error squiggle, completion, Problems panel), apply the quick fix, then compile a
valid pipeline from the command palette and find its manifest on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.editor, pytest.mark.slow]

def test_vscode_shows_problems_and_completion_from_the_server(code_server, broken_pipeline, tmp_path, node, editor_tools):
    chromium = editor_tools.chromium()
    playwright = editor_tools.playwright_core()
    shots = tmp_path / "shots"
    shots.mkdir()
    proc = subprocess.run(
        [node, str(Path(__file__).with_name("drive_vscode.js"))],
        env={**os.environ, "PLAYWRIGHT_CORE": playwright, "CHROMIUM": chromium, "VSCODE_URL": code_server,
             "OML_FILE": broken_pipeline.path.name, "GOOD_FILE": broken_pipeline.good_path.name,
             "OUT_DIR": str(shots)},
        capture_output=True, text=True, timeout=240)
    result_file = shots / "result.json"
    logs = f"driver rc={proc.returncode}\n{proc.stderr[-3000:]}\ncode-server log:\n" + (
        (tmp_path / "code-server.log").read_text()[-4000:])
    assert result_file.exists(), logs
    result = json.loads(result_file.read_text())
    assert result["ok"], f"{result.get('error')}\nsteps: {result['steps']}\nscreenshots in {shots}\n{logs}"

    assert result["language"] == "OML", result
    labels = " | ".join(result["completion"])
    assert "mysql.extractor" in labels and "supabase.writer" in labels, labels
    problems = " | ".join(result["problems"])
    assert "mysql.extractr" in problems and "oml.unknown-component" in problems, problems
    assert "broken.oml.yaml" in problems, problems

    fixes = " | ".join(result["quick_fixes"])
    assert "mysql.extractor" in fixes, fixes
    # The fixed buffer is not saved: the Problems panel, fed by the server, is the proof.
    assert not [p for p in result["problems_after_fix"] if "oml.unknown-component" in p], result["problems_after_fix"]

    assert "Osiris: compile: finished" in result["compile_message"], result["compile_message"]
    manifest = broken_pipeline.workspace / ".osiris" / "compiled" / "good" / "manifest.yaml"
    assert manifest.exists(), f"compile reported {result['compile_message']!r} but wrote no {manifest}"
    assert "extract-orders" in manifest.read_text()
