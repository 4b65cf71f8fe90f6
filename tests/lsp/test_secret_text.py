"""A moved secret is the exact text written: the "move secret" quick fix's line in a dotenv or
YAML secrets file reads back (through the runner's reader) as the value, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris_lsp.features.code_actions import _secrets_line
from osiris_runtime.secrets import read_secrets_file

from .test_code_actions import apply


AWKWARD = ["café ünïcode ☃", "${HOME}", "a'b\"c\\d", "tab\there", "0123456", "true", "#not-a-comment", "x=y z"]


def _moved(tmp_path: Path, name: str, value: str, before: str = "") -> str:
    path = tmp_path / name
    path.write_text(before, encoding="utf-8")
    path.write_text(apply(before, [_secrets_line(path, "MYSQL_SHOP_PASSWORD", value)]), encoding="utf-8")
    return read_secrets_file(path)["MYSQL_SHOP_PASSWORD"]


@pytest.mark.parametrize("file_name", [".env", "secrets.yaml"])
def test_awkward_secrets_come_back_exactly(tmp_path, file_name):
    for value in AWKWARD:
        assert _moved(tmp_path, file_name, value, before="OTHER=1\n" if file_name == ".env" else "OTHER: '1'\n") == value


@settings(max_examples=100, deadline=None)
@given(value=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40),
       file_name=st.sampled_from([".env", "secrets.yml"]))
def test_any_moved_secret_reads_back_as_written(tmp_path_factory, value, file_name):
    assert _moved(tmp_path_factory.mktemp("s"), file_name, value) == value
