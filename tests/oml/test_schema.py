"""The exported JSON Schema: valid 2020-12, accepts valid pipelines, constrains config by component."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.schema import oml_json_schema


@pytest.fixture(scope="module")
def schema_validator(registry):
    schema = oml_json_schema(registry)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(validator, text):
    return list(validator.iter_errors(parse_oml(text).data))


def test_valid_pipeline_passes(schema_validator, valid_pipeline):
    assert errors(schema_validator, valid_pipeline) == []


def test_config_is_constrained_by_its_component(schema_validator, valid_pipeline):
    bad_enum = valid_pipeline.replace("write_mode: upsert", "write_mode: upsrt")
    assert errors(schema_validator, bad_enum)
    unknown_key = valid_pipeline.replace("query: SELECT * FROM df_pull_orders", "quer: x")
    assert errors(schema_validator, unknown_key)


def test_a_connection_relaxes_the_fields_it_supplies_but_not_the_others(schema_validator, valid_pipeline):
    no_connection = valid_pipeline.replace('      connection: "@mysql.warehouse"\n', "")
    assert errors(schema_validator, no_connection)  # host, database, user, password now required
    no_table = valid_pipeline.replace("      table: orders\n", "")
    assert errors(schema_validator, no_table)


def test_mode_is_constrained_by_the_component(schema_validator, valid_pipeline):
    assert errors(schema_validator, valid_pipeline.replace("mode: transform", "mode: read"))


def test_forbidden_and_unknown_top_level_keys_fail_but_extensions_pass(schema_validator, valid_pipeline):
    assert errors(schema_validator, "version: 1\n" + valid_pipeline)
    assert errors(schema_validator, valid_pipeline + "tasks: []\n")
    assert errors(schema_validator, valid_pipeline + "x-owner: team\n") == []


def test_legacy_spellings_are_accepted(schema_validator, valid_pipeline):
    legacy = valid_pipeline.replace("component: duckdb.processor", "type: duckdb.processor")
    assert errors(schema_validator, legacy) == []
