"""The worker re-uses step parses across versions of a document; diagnostics stay those of a full parse."""

from __future__ import annotations

from pathlib import Path

from osiris_lsp.settings import ServerSettings
from osiris_lsp.worker import _diagnostics, run_feature
from osiris_lsp.workspace import DocumentSnapshot, FolderContext

STEP = """\
  - id: step-{n}
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.nope"
      query: SELECT {n}
"""


def test_worker_diagnostics_after_edits_equal_a_fresh_parse(tmp_path: Path) -> None:
    (tmp_path / "osiris_connections.yaml").write_text("connections:\n  mysql:\n    shop:\n      host: h\n")
    settings = ServerSettings()
    uri = (tmp_path / "p.oml.yaml").as_uri()
    text = 'oml_version: "0.1.0"\nname: p\nsteps:\n' + "".join(STEP.format(n=n) for n in range(30))
    versions = [
        text,
        text.replace("SELECT 7", "SELECT 77"),
        text.replace("  - id: step-9\n", "  - id: step-9\n    needs: [step-12]\n"),
        text.replace("step-3\n", "step-3\n  - id: [\n"),
        text.replace("mode: read\n", "mode: reed\n", 1),
    ]
    folder = FolderContext.create(tmp_path, settings)
    for version, body in enumerate(versions):
        found = run_feature("diagnostics", uri, version, body, tmp_path, settings)
        assert found == _diagnostics(DocumentSnapshot(uri, version, body), folder)
        assert found  # every version has problems: the comparison is not of two empty lists
