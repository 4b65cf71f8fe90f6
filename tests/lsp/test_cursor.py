"""The cursor analysis: `|` marks the cursor inside inline OML snippets, half-typed ones included."""

from __future__ import annotations

import pytest

from osiris_lsp.cursor import ContextKind, completion_context


def at_cursor(snippet: str):
    lines = snippet.split("\n")
    for n, line in enumerate(lines):
        if "|" in line:
            column = line.index("|")
            lines[n] = line.replace("|", "", 1)
            return completion_context([l + "\n" for l in lines], n, column)
    raise AssertionError("no cursor marker")


PIPELINE_HEAD = """oml_version: "0.1.0"
name: demo
params:
  since: {type: string}
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: SELECT 1
"""


@pytest.mark.parametrize(
    "snippet, kind",
    [
        ("|", ContextKind.TOP_LEVEL_KEY),
        ("oml_version: '0.1.0'\nna|", ContextKind.TOP_LEVEL_KEY),
        (PIPELINE_HEAD + "  - |", ContextKind.STEP_KEY),
        (PIPELINE_HEAD + "    |", ContextKind.STEP_KEY),
        (PIPELINE_HEAD + "      |", ContextKind.CONFIG_KEY),
        (PIPELINE_HEAD + "  - id: push\n    component: |", ContextKind.COMPONENT),
        (PIPELINE_HEAD + "  - id: push\n    component: supabase.writer\n    mode: w|", ContextKind.MODE),
        (PIPELINE_HEAD + "  - id: push\n    needs: [|", ContextKind.NEEDS_ITEM),
        (PIPELINE_HEAD + "  - id: push\n    needs:\n      - p|", ContextKind.NEEDS_ITEM),
        (PIPELINE_HEAD + "      batch_size: |", ContextKind.CONFIG_VALUE),
        (PIPELINE_HEAD + "      connection: \"@my|", ContextKind.CONNECTION_REF),
        (PIPELINE_HEAD + "      table: ${params.|", ContextKind.PARAMS_REF),
        ("steps:\n- id: a\n  component: mysql.extractor\n  config:\n    |", ContextKind.CONFIG_KEY),
        ("name: x\nsteps:\n  - id: a\n    config:\n      query: >\n        SELECT 1\n      |", ContextKind.CONFIG_KEY),
    ],
)
def test_kind_of_slot(snippet, kind):
    assert at_cursor(snippet).kind is kind


def test_step_key_knows_step_index_component_and_present_keys():
    ctx = at_cursor(PIPELINE_HEAD + "  - id: push\n    component: supabase.writer\n    |\n    mode: write\n")
    assert ctx.kind is ContextKind.STEP_KEY
    assert ctx.step_index == 1
    assert ctx.component == "supabase.writer"
    assert ctx.present_keys == {"id", "component", "mode"}


def test_config_key_present_keys_and_prefix():
    ctx = at_cursor(PIPELINE_HEAD + "      bat|\n  - id: next\n    component: x\n")
    assert ctx.kind is ContextKind.CONFIG_KEY
    assert ctx.prefix == "bat"
    assert ctx.component == "mysql.extractor"
    assert ctx.present_keys == {"connection", "query"}
    assert (ctx.start, ctx.end) == (6, 9)


def test_config_value_names_its_key_and_quote():
    ctx = at_cursor(PIPELINE_HEAD + "      echo: 'tr|'")
    assert ctx.kind is ContextKind.CONFIG_VALUE
    assert ctx.key == "echo" and ctx.prefix == "tr" and ctx.quote == "'"


def test_top_level_present_keys_exclude_what_is_written():
    ctx = at_cursor(PIPELINE_HEAD.replace("name: demo\n", "|\n"))
    assert ctx.kind is ContextKind.TOP_LEVEL_KEY
    assert ctx.present_keys == {"oml_version", "params", "steps"}


def test_flow_needs_lists_entries_already_written():
    ctx = at_cursor(PIPELINE_HEAD + "  - id: push\n    needs: [pull, |")
    assert ctx.kind is ContextKind.NEEDS_ITEM
    assert ctx.present_keys == {"pull"}
    assert ctx.flow


def test_half_typed_broken_document_still_gives_a_context():
    broken = "steps:\n  - id: [unclosed\n    component: mysql.ex|\n  config: {\n"
    ctx = at_cursor(broken)
    assert ctx.kind is ContextKind.COMPONENT
    assert ctx.prefix == "mysql.ex"


def test_legacy_spellings_are_understood():
    ctx = at_cursor("steps:\n  - id: a\n    uses: mysql.extractor\n    with:\n      |")
    assert ctx.kind is ContextKind.CONFIG_KEY
    assert ctx.component == "mysql.extractor"


def test_value_of_unknown_place_is_none():
    assert at_cursor("name: x|").kind is ContextKind.NONE
    assert at_cursor("params:\n  since: |").kind is ContextKind.NONE


def test_comments_and_blank_lines_do_not_break_the_walk():
    ctx = at_cursor("steps:\n  # the source\n  - id: a\n\n    # its component\n    component: mysql.writer  # trailing\n\n    config:\n      # keys\n      |")
    assert ctx.kind is ContextKind.CONFIG_KEY
    assert ctx.component == "mysql.writer"


def test_crlf_line_endings():
    snippet = "steps:\r\n  - id: a\r\n    component: mysql.writer\r\n    config:\r\n      |"
    ctx = at_cursor(snippet)
    assert ctx.kind is ContextKind.CONFIG_KEY and ctx.component == "mysql.writer"


def test_quoted_component_and_keys():
    ctx = at_cursor("steps:\n  - \"id\": a\n    'component': \"mysql.writer\"\n    config:\n      |")
    assert ctx.component == "mysql.writer" and ctx.kind is ContextKind.CONFIG_KEY


def test_step_index_counts_items_of_the_steps_sequence_only():
    ctx = at_cursor("steps:\n  - id: a\n    needs:\n      - x\n      - y\n  - id: b\n    needs: []\n  - id: c\n    |")
    assert ctx.kind is ContextKind.STEP_KEY and ctx.step_index == 2 and ctx.path == ("steps", 2)


def test_cursor_past_the_end_of_the_document():
    assert completion_context(["name: x\n"], 5, 0).kind is ContextKind.TOP_LEVEL_KEY
