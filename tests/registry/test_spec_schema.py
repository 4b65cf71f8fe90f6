"""The spec schema and the specs: every spec found validates, and so does every example in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from osiris_runtime.registry import (
    BUILTIN_COMPONENTS_DIR,
    check_examples,
    check_spec_data,
    find_spec_files,
    load_spec_file,
    load_spec_schema,
    read_spec_file,
    spec_from_raw,
    spec_schema_validator,
)

from .conftest import BUILTIN_NAMES, builtin_spec, minimal_spec

DATA = Path(__file__).parent / "data"
# Every spec shipped with the runtime, present and future (other components land beside these four).
ALL_SPEC_FILES = find_spec_files([BUILTIN_COMPONENTS_DIR])


def _ids(paths: list[Path]) -> list[str]:
    return [p.parent.name for p in paths]


def test_spec_schema_is_a_valid_draft_2020_12_schema():
    schema = load_spec_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["name", "version", "modes", "capabilities", "configSchema"]


def test_the_four_m1_specs_are_shipped():
    assert set(BUILTIN_NAMES) <= {p.parent.name for p in ALL_SPEC_FILES}


@pytest.mark.parametrize("path", ALL_SPEC_FILES, ids=_ids(ALL_SPEC_FILES))
def test_every_shipped_spec_validates_against_the_spec_schema(path: Path):
    loaded = load_spec_file(path, spec_schema_validator)
    assert [p.format() for p in loaded.problems if p.is_error] == []
    assert loaded.spec is not None and loaded.spec.name == path.parent.name


@pytest.mark.parametrize("path", ALL_SPEC_FILES, ids=_ids(ALL_SPEC_FILES))
def test_every_example_of_every_spec_validates_against_its_config_schema(path: Path):
    spec = load_spec_file(path, spec_schema_validator).spec
    assert spec is not None
    assert len(spec.examples) <= 2
    assert [p.format() for p in check_examples(spec)] == []


def test_an_original_osiris_spec_validates_unchanged():
    raw = read_spec_file(DATA / "original_style_spec.yaml")
    assert check_spec_data(raw, DATA / "original_style_spec.yaml", spec_schema_validator()) == []
    spec = spec_from_raw(raw, DATA / "original_style_spec.yaml")
    assert check_examples(spec) == []
    # runtime-only pointers stay out of the config secrets; connection fields keep their policy
    assert spec.secrets == ("/password",)
    assert spec.connection_fields["database"].override == "forbidden"
    assert spec.connection_fields["schema"].override == "allowed"


def test_the_simple_list_form_of_connection_fields_means_allowed():
    spec = spec_from_raw(minimal_spec(**{"x-connection-fields": ["table"]}), Path("x/spec.yaml"))
    assert spec.connection_fields["table"].override == "allowed"


def test_without_connection_fields_the_secret_roots_are_connection_supplied_and_forbidden():
    spec = spec_from_raw(minimal_spec(secrets=["/auth/token"]), Path("x/spec.yaml"))
    assert {k: v.override for k, v in spec.connection_fields.items()} == {"auth": "forbidden"}


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"version": "1.0"}, "/version"),
        ({"name": "Bad Name"}, "/name"),
        ({"modes": ["extract", "teleport"]}, "/modes/1"),
        ({"modes": []}, "/modes"),
        ({"capabilities": {"flying": True}}, "/capabilities/flying"),
        ({"surprise": 1}, "/surprise"),
        ({"secrets": ["password"]}, "/secrets/0"),
        ({"configSchema": {"type": "array", "properties": {}}}, "/configSchema/type"),
        ({"x-connection-fields": [{"name": "host", "override": "sometimes"}]}, "/x-connection-fields/0/override"),
        ({"x-runtime": {"driver": "not a dotted path"}}, "/x-runtime/driver"),
        ({"constraints": {"required": [{"when": {"a": 1}, "error": "needs must"}]}}, "/constraints/required/0"),
    ],
)
def test_the_schema_rejects_malformed_specs_naming_the_field(change: dict, pointer: str):
    raw = minimal_spec(**change)
    problems = check_spec_data(raw, Path("acme.extractor/spec.yaml"), spec_schema_validator())
    assert problems, f"{change} should be rejected"
    assert all(p.code == "spec.invalid" for p in problems)
    assert pointer in [p.data.get("field", "/") for p in problems]


def test_missing_required_top_level_fields_are_named():
    raw = minimal_spec()
    del raw["configSchema"]
    (problem,) = check_spec_data(raw, Path("acme.extractor/spec.yaml"), spec_schema_validator())
    assert "configSchema" in problem.message


def test_a_spec_that_is_not_a_mapping_is_invalid():
    (problem,) = check_spec_data(["a", "list"], Path("x/spec.yaml"), spec_schema_validator())
    assert problem.code == "spec.invalid"


def test_an_invalid_embedded_config_schema_is_reported():
    raw = minimal_spec(configSchema={"type": "object", "properties": {"a": {"type": "nonsense"}}})
    (problem,) = check_spec_data(raw, Path("x/spec.yaml"), spec_schema_validator())
    assert problem.code == "spec.invalid-config-schema"
    assert problem.data["field"].startswith("/configSchema/properties/a")


def test_an_example_that_breaks_its_config_schema_is_reported_with_its_location():
    raw = builtin_spec("mysql.writer")
    raw["examples"][1]["config"]["write_mode"] = "merge"
    spec = spec_from_raw(raw, BUILTIN_COMPONENTS_DIR / "mysql.writer" / "spec.yaml")
    (problem,) = check_examples(spec)
    assert problem.code == "spec.invalid-example"
    assert problem.data["field"] == "/examples/1/config/write_mode"
    assert "use one of: append, replace, upsert" in (problem.fix or "")
    assert problem.range.start.line > 0  # placed on the example in the YAML file
