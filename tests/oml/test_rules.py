"""The validator's rules: a table of bad snippets (code, line, column) and near-misses that pass.

Lines and columns are 1-based, as `osiris oml validate` prints them.
"""

from __future__ import annotations

import pytest

H = 'oml_version: "0.1.0"\nname: p\nsteps:\n'
STEP = "  - id: a\n    component: duckdb.processor\n    mode: transform\n    config: {query: SELECT 1}\n"


def extractor(*config_lines: str, head: str = H) -> str:
    body = "".join(f"      {line}\n" for line in config_lines)
    return head + "  - id: r\n    component: mysql.extractor\n    mode: read\n    config:\n" + body


def writer(*config_lines: str) -> str:
    body = "".join(f"      {line}\n" for line in config_lines)
    return H + "  - id: w\n    component: mysql.writer\n    mode: write\n    config:\n" + body


BAD = [
    ("yaml.syntax", H + "  - id: a\n    component: : x\n", 5, 16),
    ("yaml.duplicate-key", H + STEP + "name: q\n", 8, 1),
    ("oml.invalid-type", "- just\n- a list\n", 1, 1),
    ("oml.missing-key", 'oml_version: "0.1.0"\nsteps:\n' + STEP, 1, 1),
    ("oml.missing-key", H + "  - id: a\n    component: duckdb.processor\n    config: {query: SELECT 1}\n", 4, 9),
    ("oml.forbidden-key", H + STEP + "connectors: {}\n", 8, 1),
    ("oml.unknown-key", H + STEP + "descripton: x\n", 8, 1),
    ("oml.unsupported-version", 'oml_version: "0.2.0"\nname: p\nsteps:\n' + STEP, 1, 14),
    ("oml.name-format", 'oml_version: "0.1.0"\nname: My_Pipe\nsteps:\n' + STEP, 2, 7),
    ("oml.empty-name", 'oml_version: "0.1.0"\nname: ""\nsteps:\n' + STEP, 2, 7),
    ("oml.empty-steps", 'oml_version: "0.1.0"\nname: p\nsteps: []\n', 3, 1),
    ("oml.duplicate-step-id", H + STEP + STEP, 8, 9),
    ("oml.step-id-format", H + STEP.replace("id: a", "id: Pull_A"), 4, 9),
    ("oml.unknown-component", H + STEP.replace("duckdb.processor", "duckdb.procesor"), 5, 16),
    ("oml.invalid-mode", H + STEP.replace("mode: transform", "mode: extract"), 6, 11),
    ("oml.incompatible-mode", H + STEP.replace("mode: transform", "mode: read"), 6, 11),
    ("oml.deprecated-key", H + STEP.replace("component:", "uses:"), 5, 5),
    ("oml.unsupported-key", H + STEP + "    retry: {max: 3}\n", 8, 5),
    ("config.unknown-key", H + STEP.replace("{query: SELECT 1}", "{query: SELECT 1, qeury: x}"), 7, 31),
    ("config.missing-required", H + STEP.replace("{query: SELECT 1}", "{}"), 7, 5),
    ("config.invalid-enum", writer('connection: "@mysql.warehouse"', "table: t", "write_mode: upsrt"), 10, 19),
    ("config.invalid-type", extractor('connection: "@mysql.shop"', "table: t", 'batch_size: "5000"'), 10, 19),
    ("config.out-of-range", extractor('connection: "@mysql.shop"', "table: t", "batch_size: 5"), 10, 19),
    ("config.constraint", extractor('connection: "@mysql.shop"'), 7, 5),
    ("config.constraint", writer('connection: "@mysql.warehouse"', "table: t", "write_mode: upsert"), 10, 7),  # on the key that asks for it
    ("config.deprecated-key", writer('connection: "@mysql.warehouse"', "table: t", "mode: append"), 10, 7),
    ("config.invalid-identifier", writer('connection: "@mysql.warehouse"', 'table: "rt_nl\\n"'), 9, 14),
    ("config.invalid-identifier", writer('connection: "@mysql.warehouse"', 'table: "orders; DROP TABLE x"'), 9, 14),
    ("config.invalid-identifier", extractor('connection: "@mysql.shop"', "table: t", "columns: [id, bad name]"), 10, 21),
    ("connection.forbidden-override", writer('connection: "@mysql.warehouse"', "table: otherdb.t"), 9, 14),
    ("connection.invalid-ref", extractor("connection: mysql.shop", "table: t"), 8, 19),
    ("connection.invalid-ref", extractor('connection: "@mysql"', "table: t"), 8, 19),
    ("connection.family-mismatch", extractor('connection: "@supabase.analytics"', "table: t"), 8, 19),
    ("connection.unknown-alias", extractor('connection: "@mysql.shopp"', "table: t"), 8, 19),
    ("connection.forbidden-override", extractor('connection: "@mysql.shop"', "table: t", "database: other"), 10, 7),
    ("connection.override-warning", extractor('connection: "@mysql.shop"', "table: t", "port: 3307"), 10, 7),
    ("needs.unknown-step", H + STEP + "    needs: [b]\n", 8, 13),
    ("needs.self", H + STEP + "    needs: [a]\n", 8, 13),
    ("needs.cycle", H + STEP + "    needs: [b]\n" + STEP.replace("id: a", "id: b"), 8, 12),
    ("secret.inline", extractor("table: t", "host: h", "database: d", "user: u", "password: hunter2"), 12, 17),
    ("secret.suspicious", H + STEP + '    x-note: "postgres://admin:s3cr3t@db/x"\n', 8, 13),
    ("secret.suspicious", H + STEP + "    x-token: eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4f\n", 8, 14),
    ("secret.suspicious", H + STEP + '    x-dsn: "host=db password=s3cr3t"\n', 8, 12),
    ("params.undeclared", H + STEP.replace("SELECT 1", "'SELECT ${params.since}'"), 7, 29),
    ("params.bad-default", 'oml_version: "0.1.0"\nname: p\nparams:\n  n: {type: integer, default: many}\nsteps:\n' + STEP, 4, 31),
    ("params.bad-default", 'oml_version: "0.1.0"\nname: p\nparams:\n  n: {enum: [a, b], default: c}\nsteps:\n' + STEP, 4, 30),
    ("params.invalid-declaration", 'oml_version: "0.1.0"\nname: p\nparams:\n  n: {type: text}\nsteps:\n' + STEP, 4, 13),
    (
        "params.bad-profile-value",
        'oml_version: "0.1.0"\nname: p\nparams:\n  n: {type: integer, default: 1}\nprofiles:\n  dev:\n    params: {n: x}\nsteps:\n' + STEP,
        7, 17,
    ),
    ("config.conflicting-alias", writer('connection: "@mysql.warehouse"', "table: t", "mode: append", "write_mode: append"), 10, 7),
    ("yaml.unknown-alias", H + STEP.replace("SELECT 1", "*q"), 7, 21),
    ("yaml.multiple-documents", H + STEP + "---\nname: x\n", 8, 1),
    ("oml.invalid-type", 'oml_version: 0.1\nname: p\nsteps:\n' + STEP, 1, 14),
    ("oml.invalid-type", H + "  - just-a-string\n", 4, 5),
    ("oml.invalid-type", H + STEP.replace("{query: SELECT 1}", "[query]"), 7, 13),
    ("oml.invalid-type", H + STEP + "    needs: a-string-is-not-a-list-but-ok\n" + "  - id: b\n    component: duckdb.processor\n    mode: transform\n    needs: 3\n    config: {query: x}\n", 12, 12),
    (
        "params.unknown-profile-param",
        'oml_version: "0.1.0"\nname: p\nparams:\n  n: {type: integer, default: 1}\nprofiles:\n  dev:\n    params: {m: 2}\nsteps:\n' + STEP,
        7, 14,
    ),
]

# Near misses: the same shapes written correctly must not raise the code.
GOOD = [
    ("yaml.syntax", H + "  - id: a\n    component: 'x: y'\n"),
    ("yaml.duplicate-key", H + STEP + "description: q\n"),
    ("yaml.unknown-alias", H + STEP.replace("SELECT 1", "&q SELECT 1") + STEP.replace("id: a", "id: b").replace("SELECT 1", "*q")),
    ("oml.invalid-type", 'oml_version: "0.1.0"\nname: p\nsteps:\n' + STEP),
    ("oml.missing-key", H + STEP),
    ("oml.unsupported-version", H + STEP),
    ("oml.name-format", 'oml_version: "0.1.0"\nname: my-pipe-2\nsteps:\n' + STEP),
    ("oml.empty-name", 'oml_version: "0.1.0"\nname: x\nsteps:\n' + STEP),
    ("oml.empty-steps", H + STEP),
    ("oml.duplicate-step-id", H + STEP + STEP.replace("id: a", "id: b")),
    ("oml.unknown-component", H + STEP),
    ("oml.invalid-mode", H + STEP),
    ("oml.unsupported-key", H + STEP + "    x-retry: {max: 3}\n"),
    ("config.invalid-enum", writer('connection: "@mysql.warehouse"', "table: t", "write_mode: append")),
    ("config.out-of-range", extractor('connection: "@mysql.shop"', "table: t", "batch_size: 100")),
    ("config.deprecated-key", writer('connection: "@mysql.warehouse"', "table: t", "write_mode: append")),
    ("connection.family-mismatch", extractor('connection: "@mysql.shop"', "table: t")),
    ("connection.override-warning", extractor('connection: "@mysql.shop"', "table: t")),
    ("needs.self", H + STEP + STEP.replace("id: a", "id: b") + "    needs: [a]\n"),
    ("params.invalid-declaration", 'oml_version: "0.1.0"\nname: p\nparams:\n  n: {type: string}\nsteps:\n' + STEP),
    ("oml.unknown-key", H + STEP + "x-owner: data-team\n"),
    ("oml.unknown-key", H + STEP + "description: x\nmetadata: {intent: copy}\n"),
    ("oml.forbidden-key", H + STEP),
    ("oml.step-id-format", H + STEP.replace("id: a", "id: pull-a2")),
    ("oml.incompatible-mode", H + STEP),
    ("oml.deprecated-key", H + STEP),
    ("config.unknown-key", extractor('connection: "@mysql.shop"', "table: t")),
    ("config.missing-required", extractor('connection: "@mysql.shop"', "table: t")),
    ("config.constraint", writer('connection: "@mysql.warehouse"', "table: t", "write_mode: upsert", "primary_key: id")),
    ("config.invalid-type", extractor('connection: "@mysql.shop"', "table: t", "batch_size: 5000")),
    ("connection.invalid-ref", extractor('connection: "@mysql.shop"', "table: t")),
    ("connection.unknown-alias", extractor('connection: "@mysql.warehouse"', "table: t")),
    ("connection.forbidden-override", extractor('connection: "@mysql.shop"', "table: t", "host: other")),
    ("needs.cycle", H + STEP + "    needs: []\n" + STEP.replace("id: a", "id: b")),
    ("needs.unknown-step", H + STEP + STEP.replace("id: a", "id: b") + "    needs: [a]\n"),
    ("secret.inline", extractor('connection: "@mysql.shop"', "table: t")),
    ("secret.inline", extractor("table: t", "host: h", "database: d", "user: u", "password: ${MYSQL_PASSWORD}")),
    ("secret.suspicious", H + STEP + '    x-note: "postgres://admin:${PW}@db/x"\n'),
    ("params.undeclared", "VALID"),
    ("params.bad-default", 'oml_version: "0.1.0"\nname: p\nparams:\n  n: {type: integer, default: 3}\nsteps:\n' + STEP),
    ("params.unknown-profile-param",
     'oml_version: "0.1.0"\nname: p\nparams:\n  n: {type: integer, default: 1}\nprofiles:\n  dev:\n    params: {n: 2}\nsteps:\n' + STEP),
]


@pytest.mark.parametrize(("code", "text", "line", "column"), BAD, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD)])
def test_bad_snippet_is_reported_with_code_line_and_column(check, code, text, line, column):
    found = [d for d in check(text) if d.code == code]
    assert found, f"{code} not reported; got {[d.format() for d in check(text)]}"
    assert (found[0].range.start.line + 1, found[0].range.start.column + 1) == (line, column)
    assert found[0].message and found[0].fix, "every diagnostic has a message and a fix"


@pytest.mark.parametrize(("code", "text"), GOOD, ids=[f"{c[0]}-{i}" for i, c in enumerate(GOOD)])
def test_near_miss_is_not_reported(check, code, text):
    assert code not in [d.code for d in check(text)]


def test_the_valid_pipeline_has_no_diagnostics(check, valid_pipeline):
    assert check(valid_pipeline) == []


def test_without_a_connections_file_references_get_one_warning(check, valid_pipeline):
    diagnostics = check(valid_pipeline, connections=None)
    assert [(d.code, d.severity.label) for d in diagnostics] == [("connection.no-file", "warning")]


def test_strict_turns_warnings_into_errors(check, valid_pipeline):
    (diag,) = check(valid_pipeline, connections=None, strict=True)
    assert diag.is_error


def test_legacy_spellings_load_with_warnings_only(check, valid_pipeline):
    text = valid_pipeline.replace("component: mysql.extractor", "type: mysql.extractor").replace("    config:\n      query: SELECT", "    with:\n      query: SELECT")
    diagnostics = check(text)
    assert sorted(d.code for d in diagnostics) == ["oml.deprecated-key", "oml.deprecated-key"]
    assert {d.data["legacy"] for d in diagnostics} == {"type", "with"}
    assert all(not d.is_error for d in diagnostics)


def test_forbidden_top_level_keys_explain_the_v010_spelling(check):
    diagnostics = [d for d in check("version: 1\ntasks: []\nname: p\nsteps:\n" + STEP) if d.code == "oml.forbidden-key"]
    assert {d.data["legacy"]: d.data.get("replacement") for d in diagnostics} == {"version": "oml_version", "tasks": "steps"}
    assert "oml_version" in diagnostics[0].fix


def test_cycle_message_names_the_path(check):
    text = H + STEP.replace("id: a", "id: a") + "    needs: [c]\n" + STEP.replace("id: a", "id: b") + "    needs: [a]\n" + STEP.replace("id: a", "id: c") + "    needs: [b]\n"
    (cycle,) = [d for d in check(text) if d.code == "needs.cycle"]
    assert "a -> b -> c -> a" in cycle.message
    assert cycle.data["cycle"] == ["a", "b", "c", "a"]


def test_implicit_previous_step_dependency_can_close_a_cycle(check):
    text = H + STEP + "    needs: [b]\n" + STEP.replace("id: a", "id: b")
    (cycle,) = [d for d in check(text) if d.code == "needs.cycle"]
    assert "a -> b -> a" in cycle.message and "before them" in cycle.message


def test_quick_fix_data(check):
    def data_of(code, text):
        return next(d.data for d in check(text) if d.code == code)

    assert data_of("oml.unknown-component", H + STEP.replace("duckdb.processor", "duckdb.procesor"))["replacement"] == "duckdb.processor"
    assert data_of("config.unknown-key", H + STEP.replace("{query: SELECT 1}", "{query: x, qeury: x}"))["replacement"] == "query"
    assert data_of("config.missing-required", H + STEP.replace("{query: SELECT 1}", "{}"))["missing"] == ["query"]
    assert data_of("oml.deprecated-key", H + STEP.replace("config:", "with:")) == {"legacy": "with", "replacement": "config"}
    assert data_of("connection.unknown-alias", extractor('connection: "@mysql.shopp"', "table: t"))["replacement"] == "@mysql.shop"
    assert data_of("connection.invalid-ref", extractor("connection: mysql.shop", "table: t"))["replacement"] == "@mysql.shop"
    assert data_of("oml.step-id-format", H + STEP.replace("id: a", "id: Pull_A"))["replacement"] == "pull-a"
    assert data_of("needs.unknown-step", H + STEP + STEP.replace("id: a", "id: bb") + "    needs: [ab]\n")["replacement"] in ("a", "bb")


def test_every_unknown_config_key_is_reported_on_its_own_key(check):
    text = H + STEP.replace("{query: SELECT 1}", "{query: SELECT 1, qeury: x, zzz: 2}")
    unknown = [d for d in check(text) if d.code == "config.unknown-key"]
    assert [(d.data["key"], d.range.start.column + 1) for d in unknown] == [("qeury", 31), ("zzz", 41)]
    assert unknown[0].data["replacement"] == "query" and "replacement" not in unknown[1].data


def test_secret_messages_never_repeat_the_secret(check):
    text = extractor("table: t", "host: h", "database: d", "user: u", "password: hunter2") + '    x-dsn: "mysql://u:topsecret@h/db"\n'
    diagnostics = check(text)
    inline = next(d for d in diagnostics if d.code == "secret.inline")
    assert inline.data == {"field": "password", "family": "mysql", "component": "mysql.extractor"}
    assert "@mysql.<alias>" in inline.fix
    for d in diagnostics:
        rendered = d.format() + repr(d.to_json())
        assert "hunter2" not in rendered and "topsecret" not in rendered


def test_connection_supplies_required_fields_only_when_the_alias_has_them(check, registry):
    from osiris_runtime.oml.connections import parse_connections
    from osiris_runtime.oml.document import parse_oml
    from osiris_runtime.oml.rules import validate

    thin = parse_connections("connections:\n  mysql:\n    shop: {host: h}\n")
    diagnostics = validate(parse_oml(extractor('connection: "@mysql.shop"', "table: t")), registry, connections=thin)
    missing = [d for d in diagnostics if d.code == "config.missing-required"]
    assert {m for d in missing for m in d.data["missing"]} == {"database", "user", "password"}
    assert "@mysql.shop" in missing[0].message and "osiris_connections.yaml" in missing[0].fix


def test_param_placeholder_takes_the_default_for_config_checks(check):
    head = 'oml_version: "0.1.0"\nname: p\nparams:\n  size: {type: integer, default: 5}\n  later: {type: integer}\nsteps:\n'
    bad = check(extractor('connection: "@mysql.shop"', "table: t", "batch_size: ${params.size}", head=head))
    assert [d.code for d in bad] == ["config.out-of-range"]
    unknown_yet = check(extractor('connection: "@mysql.shop"', "table: t", "batch_size: ${params.later}", head=head))
    assert unknown_yet == []


def test_every_diagnostic_carries_the_source(check):
    assert all(d.source == "p.yaml" for d in check(H + STEP + STEP))


@pytest.mark.parametrize("old", ["mode: append", "upsert_keys: [id]", "create_table: true"])
def test_a_deprecated_key_stays_a_warning_beside_an_unknown_key(check, old):
    from osiris_runtime.registry import Registry

    # The shipped mysql.writer spec: it declares all three v0.1.0 spellings.
    diagnostics = check(writer('connection: "@mysql.warehouse"', "table: t", old, "colour: blue"), registry=Registry())
    by_key = {d.data.get("key", d.data.get("field")): (d.code, d.severity.label) for d in diagnostics if d.code.startswith("config.")}
    name = old.split(":")[0]
    assert by_key[name] == ("config.deprecated-key", "warning")
    assert by_key["colour"] == ("config.unknown-key", "error")
    assert [d.code for d in diagnostics if d.is_error] == ["config.unknown-key"]


DUCK = "  - id: {id}\n    component: duckdb.processor\n    mode: transform\n    needs: {needs}\n    config:\n      query: SELECT * FROM input_df\n"


def test_input_df_names_the_single_input_and_is_a_located_error_otherwise(check):
    one = H + STEP + DUCK.format(id="agg", needs="[a]")
    assert not [d for d in check(one) if d.code == "config.ambiguous-input"]
    two = H + STEP + STEP.replace("id: a", "id: b") + DUCK.format(id="agg", needs="[a, b]")
    (found,) = [d for d in check(two) if d.code == "config.ambiguous-input"]
    assert found.is_error and found.data["inputs"] == ["a", "b"] and "`a`, `b`" in found.message
    assert (found.range.start.line + 1, found.range.start.column + 1) == (17, 14)  # the query value
    none = H + DUCK.format(id="agg", needs="[]")
    assert "no input" in next(d for d in check(none) if d.code == "config.ambiguous-input").message


def test_a_dsn_pasted_into_connection_is_never_echoed(check):
    for ref in ('"mysql://app:Pa55-canary-e1@db:3306/shop"', '"host=db password=Pa55-canary-e1"'):
        diagnostics = check(extractor(f"connection: {ref}", "table: t"))
        invalid = next(d for d in diagnostics if d.code == "connection.invalid-ref")
        assert "may hold a password" in invalid.message
        assert all("Pa55-canary-e1" not in d.format() + repr(d.to_json()) for d in diagnostics)
    named = next(d for d in check(extractor("connection: mysql.shop", "table: t")) if d.code == "connection.invalid-ref")
    assert "`mysql.shop`" in named.message  # a name-shaped mistake is still shown, it helps
