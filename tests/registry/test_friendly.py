"""Step config validation: the JSON Schema mapper, evaluated constraints, deprecated aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from osiris_runtime.errors import Range, Severity
from osiris_runtime.friendly import (
    FriendlyError,
    example_text,
    field_name,
    friendly_from_schema_error,
    resolve_aliases,
    validate_config,
)
from osiris_runtime.registry import ComponentSpec, Registry, spec_from_raw

from .conftest import minimal_spec


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


def codes(errors: list[FriendlyError]) -> list[tuple[str, str]]:
    return [(e.code, e.field) for e in errors]


def only(errors: list[FriendlyError], code: str) -> FriendlyError:
    (match,) = [e for e in errors if e.code == code]
    return match


MYSQL_CONN = {"connection": "@mysql.shop"}
SUPA_CONN = {"connection": "@supabase.main"}


def test_a_valid_step_config_has_no_problems(registry: Registry):
    spec = registry.require("mysql.extractor")
    assert validate_config(spec, {**MYSQL_CONN, "table": "orders", "columns": ["id"], "limit": 10}) == []


def test_unknown_key_suggests_the_closest_field(registry: Registry):
    errors = validate_config(registry.require("mysql.extractor"), {**MYSQL_CONN, "tabel": "orders"})
    unknown = only(errors, "config.unknown-key")
    assert (unknown.field, unknown.path, unknown.target) == ("tabel", ("tabel",), "key")
    assert unknown.fix == "did you mean `table`?"
    assert unknown.data["replacement"] == "table"
    assert unknown.doc_url == "docs/components/mysql.extractor.md"


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(registry: Registry):
    unknown = only(validate_config(registry.require("mysql.extractor"), {**MYSQL_CONN, "table": "t", "zzzz": 1}),
                   "config.unknown-key")
    assert "replacement" not in unknown.data
    assert unknown.fix.startswith("allowed keys: host, port")


def test_missing_required_field_shows_the_specs_example(registry: Registry):
    errors = validate_config(registry.require("mysql.writer"), dict(MYSQL_CONN))
    missing = only(errors, "config.missing-required")
    assert (missing.field, missing.path, missing.target) == ("table", ("table",), "parent")
    assert missing.example == {"table": "orders_copy"}
    assert missing.fix == "add `table`, e.g. `table: orders_copy`"
    assert missing.data == {"missing": ["table"]}


def test_connection_fields_are_required_only_without_a_connection(registry: Registry):
    spec = registry.require("mysql.extractor")
    errors = validate_config(spec, {"table": "orders"})
    assert sorted(e.field for e in errors if e.code == "config.missing-required") == ["database", "host", "password", "user"]
    password = next(e for e in errors if e.field == "password")
    assert "connection" in password.fix and password.data["connection_field"] is True
    assert password.example == {"connection": "@mysql.default"}
    assert validate_config(spec, {"table": "orders"}, connection_provided=True) == []


def test_a_known_connection_supplies_only_its_fields(registry: Registry):
    spec = registry.require("mysql.extractor")
    errors = validate_config(spec, {"table": "orders"}, connection_fields=["host", "database", "user"])
    assert codes(errors) == [("config.missing-required", "password")]


def test_enum_lists_the_allowed_values_and_guesses(registry: Registry):
    bad = only(validate_config(registry.require("supabase.writer"), {**SUPA_CONN, "table": "t", "write_mode": "upsrt"}),
               "config.invalid-enum")
    assert bad.fix == "use one of: append, replace, upsert (did you mean `upsert`?)"
    assert bad.data == {"allowed": ["append", "replace", "upsert"], "replacement": "upsert"}
    assert (bad.path, bad.target) == (("write_mode",), "value")


def test_type_errors_say_what_is_expected(registry: Registry):
    spec = registry.require("mysql.extractor")
    quoted = only(validate_config(spec, {**MYSQL_CONN, "table": "t", "batch_size": "5000"}), "config.invalid-type")
    assert quoted.problem == "`batch_size` must be a whole number, not a string"
    assert quoted.fix == "remove the quotes: write the number as a number"
    assert quoted.example == {"batch_size": 5000}
    listy = only(validate_config(spec, {**MYSQL_CONN, "table": "t", "columns": "id"}), "config.invalid-type")
    assert listy.fix == "write a list"


def test_string_or_list_fields_explain_both_shapes(registry: Registry):
    spec = registry.require("supabase.writer")
    bad = only(validate_config(spec, {**SUPA_CONN, "table": "t", "primary_key": 5}), "config.invalid-type")
    assert bad.problem == "`primary_key` must be a string or a list of strings"
    nested = only(validate_config(spec, {**SUPA_CONN, "table": "t", "primary_key": ["id", 7]}), "config.invalid-type")
    assert (nested.field, nested.path) == ("primary_key[1]", ("primary_key", 1))


def test_ranges_and_lengths(registry: Registry):
    spec = registry.require("mysql.extractor")
    low = only(validate_config(spec, {**MYSQL_CONN, "table": "t", "batch_size": 5}), "config.out-of-range")
    assert low.problem == "`batch_size` must be at least 100"
    assert low.fix == "use a value between 100 and 100000"
    assert low.data == {"limit": 100, "rule": "minimum"}
    empty = only(validate_config(spec, {**MYSQL_CONN, "table": ""}), "config.out-of-range")
    assert empty.problem == "`table` must be at least 1 characters long"
    few = only(validate_config(spec, {**MYSQL_CONN, "table": "t", "columns": []}), "config.out-of-range")
    assert few.fix == "use a value of at least 1"
    dupes = only(validate_config(spec, {**MYSQL_CONN, "table": "t", "columns": ["a", "a"]}), "config.invalid-value")
    assert dupes.problem == "`columns` has duplicate items"


def test_pattern_errors_give_an_example_value(registry: Registry):
    bad = only(validate_config(registry.require("supabase.extractor"), {**SUPA_CONN, "table": "t", "url": "supabase.co"}),
               "config.pattern")
    assert bad.field == "url" and bad.fix == "write a value like `https://abcd.supabase.co`"


def test_nested_filter_values_are_named_by_path(registry: Registry):
    bad = only(validate_config(registry.require("supabase.extractor"), {**SUPA_CONN, "table": "t", "filter": {"status": 3}}),
               "config.invalid-type")
    assert (bad.field, bad.path) == ("filter.status", ("filter", "status"))


# --- constraints: evaluated, not decorative ------------------------------------------------------


@pytest.mark.parametrize("component", ["mysql.writer", "supabase.writer"])
def test_upsert_needs_primary_key(registry: Registry, component: str):
    spec = registry.require(component)
    base = {"connection": f"@{spec.family}.main", "table": "t", "write_mode": "upsert"}
    error = only(validate_config(spec, base), "config.constraint")
    # it sits on `write_mode`, the key whose value asks for a primary key
    assert error.field == "primary_key" and error.target == "key" and error.path == ("write_mode",)
    assert "upsert needs `primary_key`" in error.problem
    assert error.data == {"missing": ["primary_key"]}
    assert validate_config(spec, {**base, "primary_key": "id"}) == []
    assert validate_config(spec, {**base, "primary_key": ["day", "store"]}) == []
    assert validate_config(spec, {**base, "write_mode": "append"}) == []


def test_an_empty_primary_key_breaks_the_upsert_rule_on_its_value(registry: Registry):
    spec = registry.require("mysql.writer")
    errors = validate_config(spec, {**MYSQL_CONN, "table": "t", "write_mode": "upsert", "primary_key": ""})
    rule = only(errors, "config.constraint")
    assert (rule.path, rule.target) == (("primary_key",), "value")


@pytest.mark.parametrize("component", ["mysql.extractor", "supabase.extractor"])
def test_extractor_needs_table_or_query(registry: Registry, component: str):
    spec = registry.require(component)
    error = only(validate_config(spec, {"connection": f"@{spec.family}.main"}), "config.constraint")
    assert error.field == "table or query"
    assert error.data == {"missing": ["table", "query"], "any_of": True}
    assert error.example == {"table": "orders"}


def test_supabase_query_needs_a_direct_connection(registry: Registry):
    spec = registry.require("supabase.extractor")
    config = {"connection": "@supabase.main", "query": "select 1"}
    # the connection's fields unknown (an editor without the connections file): no false alarm
    assert validate_config(spec, config) == []
    rest_only = validate_config(spec, config, connection_fields=["url", "key"])
    error = only(rest_only, "config.constraint")
    assert error.field == "dsn or host" and "direct Postgres connection" in error.problem
    assert validate_config(spec, config, connection_fields=["url", "key", "dsn"]) == []
    assert validate_config(spec, config, connection_fields=["url", "key", "host"]) == []
    inline = {"url": "https://x.supabase.co", "key": "k" * 30, "query": "select 1"}
    assert codes(validate_config(spec, inline)) == [("config.constraint", "dsn or host")]
    assert validate_config(spec, {**inline, "host": "db.internal"}) == []


def test_supabase_create_if_missing_needs_a_direct_connection(registry: Registry):
    spec = registry.require("supabase.writer")
    config = {"connection": "@supabase.main", "table": "t", "create_if_missing": True}
    assert codes(validate_config(spec, config, connection_fields=["url", "key"])) == [("config.constraint", "dsn or host")]
    assert validate_config(spec, {**config, "create_if_missing": False}, connection_fields=["url", "key"]) == []


def test_supabase_create_if_missing_over_rest_only_is_a_warning_saying_the_table_must_exist(registry: Registry):
    spec = registry.require("supabase.writer")
    config = {"connection": "@supabase.main", "table": "t", "create_if_missing": True}
    (warning,) = validate_config(spec, config, connection_fields=["url", "key"])
    assert not warning.is_error
    assert warning.problem == "`create_if_missing` needs `dsn` to create the table; without it the table must already exist"
    assert validate_config(spec, config, connection_fields=["url", "key", "dsn"]) == []


def test_original_style_when_null_rule_is_evaluated():
    raw = minimal_spec(constraints={"required": [
        {"when": {"query": None}, "must": {"table": {"minLength": 1}}, "error": "Either table or query must be specified"}]})
    raw["configSchema"]["properties"]["query"] = {"type": "string"}
    raw["configSchema"]["required"] = []
    spec = spec_from_raw(raw, Path("acme.extractor/spec.yaml"))
    assert codes(validate_config(spec, {})) == [("config.constraint", "table")]
    assert validate_config(spec, {"query": "select 1"}) == []
    assert validate_config(spec, {"table": "t"}) == []


# --- deprecated aliases --------------------------------------------------------------------------


def test_deprecated_aliases_warn_with_the_new_spelling_and_still_validate(registry: Registry):
    spec = registry.require("mysql.writer")
    config = {**MYSQL_CONN, "table": "t", "mode": "upsert", "upsert_keys": ["id"], "create_table": True}
    errors = validate_config(spec, config)
    assert {(e.code, e.field, e.severity) for e in errors} == {
        ("config.deprecated-key", "mode", Severity.WARNING),
        ("config.deprecated-key", "upsert_keys", Severity.WARNING),
        ("config.deprecated-key", "create_table", Severity.WARNING),
    }
    mode = next(e for e in errors if e.field == "mode")
    assert mode.problem == "`mode` is deprecated: use `write_mode`"
    assert mode.data == {"replacement": "write_mode"} and mode.target == "key"
    assert resolve_aliases(spec, config) == {**MYSQL_CONN, "table": "t", "write_mode": "upsert", "primary_key": ["id"],
                                              "create_if_missing": True}


def test_an_alias_rule_failure_points_at_the_key_the_user_wrote(registry: Registry):
    spec = registry.require("mysql.writer")
    errors = validate_config(spec, {**MYSQL_CONN, "table": "t", "mode": "merge"})
    bad = only(errors, "config.invalid-enum")
    assert (bad.field, bad.path) == ("mode", ("mode",))
    assert "`mode`" in bad.problem
    upsert = validate_config(spec, {**MYSQL_CONN, "table": "t", "mode": "upsert"})
    assert "config.constraint" in [e.code for e in upsert]


def test_alias_and_new_spelling_together_conflict(registry: Registry):
    errors = validate_config(registry.require("mysql.writer"), {**MYSQL_CONN, "table": "t", "mode": "append", "write_mode": "replace"})
    conflict = only(errors, "config.conflicting-alias")
    assert conflict.data == {"replacement": "write_mode", "remove": "mode"} and conflict.is_error


# --- secrets, shapes and rendering ---------------------------------------------------------------


def test_secret_values_are_never_repeated(registry: Registry):
    spec = registry.require("supabase.writer")
    secret = "sb-secret-value-1234567890"
    errors = validate_config(spec, {"url": "https://x.supabase.co", "key": 12345, "dsn": secret * 0 or 5, "table": "t"})
    errors += validate_config(spec, {"url": "https://x.supabase.co", "key": "", "table": "t", "password": ["x", secret]})
    text = " ".join(f"{e.problem} {e.fix} {e.example} {e.data}" for e in errors)
    assert errors and secret not in text and "12345" not in text
    enum_secret = spec_from_raw(minimal_spec(secrets=["/table"], configSchema={
        "type": "object", "properties": {"table": {"enum": ["a"]}}}), Path("x/spec.yaml"))
    (err,) = validate_config(enum_secret, {"table": secret})
    assert secret not in err.problem and secret not in str(err.data)


def test_a_config_that_is_not_a_mapping(registry: Registry):
    (error,) = validate_config(registry.require("mysql.writer"), ["table", "t"])  # type: ignore[arg-type]
    assert (error.code, error.path, error.target) == ("config.invalid-type", (), "value")


def test_to_diagnostic_and_render(registry: Registry):
    error = only(validate_config(registry.require("mysql.writer"), {**MYSQL_CONN, "tabel": "t", "table": "t"}),
                 "config.unknown-key")
    diag = error.to_diagnostic(Range.at(3, 4, 3, 9), source="p.oml.yaml")
    assert diag.code == "config.unknown-key" and diag.fix == "did you mean `table`?"
    assert diag.data["replacement"] == "table" and diag.data["path"] == ["tabel"]
    assert diag.doc_url == "docs/components/mysql.writer.md"
    assert diag.format().startswith("p.oml.yaml:4:5: error config.unknown-key: unknown key `tabel`")
    missing = only(validate_config(registry.require("mysql.writer"), dict(MYSQL_CONN)), "config.missing-required")
    block = missing.render()
    for line in ("Field: table", "Problem: missing required `table`", "Fix: add `table`", "Example: table: orders_copy",
                 "Docs: docs/components/mysql.writer.md"):
        assert line in block


def test_helpers():
    assert field_name(("primary_key", 0)) == "primary_key[0]"
    assert field_name(("filter", "status")) == "filter.status"
    assert field_name(()) == ""
    assert example_text({"batch_size": 500}) == "batch_size: 500"
    assert example_text({"table": "orders"}) == "table: orders"
    assert example_text([1, 2]) == "[1, 2]"


@pytest.mark.parametrize(
    ("prop", "value", "code", "problem"),
    [
        ({"type": "integer", "exclusiveMinimum": 0}, 0, "config.out-of-range", "`x` must be greater than 0"),
        ({"type": "integer", "maximum": 3}, 4, "config.out-of-range", "`x` must be at most 3"),
        ({"type": "string", "maxLength": 2}, "abc", "config.out-of-range", "`x` must be at most 2 characters long"),
        ({"type": "object", "minProperties": 1}, {}, "config.out-of-range", "`x` must have at least 1 entries"),
        ({"type": "string", "pattern": "^a+$"}, "b", "config.pattern", "`x` does not match the pattern `^a+$`"),
        ({"const": "only"}, "other", "config.invalid-enum", "`x` has an unsupported value (\"other\")"),
        ({"type": "string", "format": "ipv4"}, "nope", "config.pattern", "`x` does not match the ipv4 format"),
        ({"not": {"type": "string"}}, "s", "config.invalid-value", "`x`: 's' should not be valid under {'type': 'string'}"),
        ({"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}, {}, "config.missing-required", "`x` needs one of: a, b"),
        ({"oneOf": [{"type": "integer", "minimum": 5}, {"type": "string"}]}, 1, "config.out-of-range", "`x` must be at least 5"),
    ],
)
def test_each_schema_rule_maps_to_a_friendly_error(prop: dict, value: object, code: str, problem: str):
    spec = spec_from_raw(minimal_spec(configSchema={"type": "object", "properties": {"x": prop}}), Path("x/spec.yaml"))
    (error,) = validate_config(spec, {"x": value})
    assert (error.code, error.problem) == (code, problem)


def test_a_missing_field_example_falls_back_to_defaults_enums_and_placeholders():
    props = {"a": {"type": "integer", "default": 7}, "b": {"enum": ["x", "y"]}, "c": {"type": "boolean"}, "d": {}}
    spec = spec_from_raw(minimal_spec(configSchema={"type": "object", "required": list(props), "properties": props},
                                      examples=[]), Path("x/spec.yaml"))
    examples = {e.field: e.example for e in validate_config(spec, {})}
    assert examples == {"a": {"a": 7}, "b": {"b": "x"}, "c": {"c": True}, "d": None}


def test_the_mapper_also_serves_plain_schemas_without_a_spec():
    from jsonschema import Draft202012Validator

    (error,) = Draft202012Validator({"type": "object", "properties": {"n": {"type": "integer"}}}).iter_errors({"n": "x"})
    friendly = friendly_from_schema_error(error)
    assert (friendly.code, friendly.doc_url, friendly.example) == ("config.invalid-type", None, None)


def test_spec_type_is_reexported_for_callers():
    assert ComponentSpec.__name__ == "ComponentSpec"


def test_repeated_validation_answers_for_the_spec_version_and_connection_at_hand(registry: Registry):
    """Results are memoised for editors; a changed spec, config or connection must never get a stale answer."""
    spec = registry.require("mysql.extractor")
    config = {"connection": "@mysql.shop", "table": "orders"}
    assert validate_config(spec, config) == validate_config(spec, dict(config)) == []
    # the same config with a connection known to lack `database` is no longer complete
    missing = validate_config(spec, config, connection_fields={"host", "user", "password"})
    assert ("config.missing-required", "database") in codes(missing)
    # an edited spec (new fingerprint) with a tighter schema judges the same config anew
    looser = spec_from_raw(minimal_spec(), Path("acme.extractor/spec.yaml"))
    raw = minimal_spec()
    raw["configSchema"]["properties"]["table"]["maxLength"] = 3
    tighter = spec_from_raw(raw, Path("acme.extractor/spec.yaml"))
    assert looser.fingerprint != tighter.fingerprint
    assert validate_config(looser, {"table": "orders"}) == []
    assert codes(validate_config(tighter, {"table": "orders"})) == [("config.out-of-range", "table")]
