"""Diagnostics link to their code's section of the troubleshooting page, in the CLI and the server."""

import re
from pathlib import Path

from click.testing import CliRunner

from osiris_lsp.convert import lsp_diagnostic
from osiris_lsp.settings import ServerSettings
from osiris_runtime.cli.app import cli
from osiris_runtime.doclinks import resolve_doc_url, troubleshooting_url
from osiris_runtime.errors import Diagnostic

REPO = Path(__file__).resolve().parents[2]
BROKEN = 'oml_version: "0.1.0"\nname: p\nsteps:\n  - id: a\n    component: duckdb.procesor\n    mode: transform\n    config: {query: SELECT 1}\n'


def test_default_link_is_the_section_in_the_repository_docs(docsite):
    url = resolve_doc_url(troubleshooting_url("oml.unknown-component"))
    assert url == (REPO / "docs" / "diagnostics.md").as_uri() + "#oml.unknown-component"
    assert "oml.unknown-component" in docsite.troubleshooting_sections()


def test_a_configured_site_is_linked_by_directory_url():
    assert troubleshooting_url("needs.cycle", "https://docs.example.org/osiris/") == \
        "https://docs.example.org/osiris/diagnostics/#needs.cycle"


def test_cli_prints_a_see_line_per_problem(tmp_path, monkeypatch):
    (tmp_path / "p.yaml").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OSIRIS_DOCS_URL", raising=False)
    out = CliRunner().invoke(cli, ["oml", "validate", "p.yaml"]).output
    assert re.search(r"^    see: file://\S+/docs/diagnostics\.md#oml\.unknown-component$", out, re.M), out
    monkeypatch.setenv("OSIRIS_DOCS_URL", "http://127.0.0.1:8000")
    out = CliRunner().invoke(cli, ["oml", "validate", "p.yaml"]).output
    assert "    see: http://127.0.0.1:8000/diagnostics/#oml.unknown-component" in out


def test_server_setting_sets_the_code_description_base():
    settings = ServerSettings().merged({"osiris": {"docsBaseUrl": "https://docs.example.org"}})
    assert settings.docs_base_url == "https://docs.example.org"
    diag = lsp_diagnostic(["a: 1"], Diagnostic("yaml.syntax", "bad"), settings.docs_base_url)
    assert diag.code_description.href == "https://docs.example.org/diagnostics/#yaml.syntax"
    assert ServerSettings().merged({"docsBaseUrl": ""}).docs_base_url is None
