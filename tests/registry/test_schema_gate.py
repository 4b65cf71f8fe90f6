"""The fast "certainly valid" gate never accepts what jsonschema (Draft 2020-12) rejects."""

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from osiris_runtime.registry import Registry
from osiris_runtime.schema_gate import certainly_valid

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False) | st.sampled_from(["", "a", "ab", "é", "x y"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=8)
SCHEMAS = [
    {"type": "integer", "minimum": 1}, {"type": "number"}, {"type": "string", "enum": ["a", "ab"]},
    {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "minItems": 1},
    {"type": "object", "properties": {"a": {"type": "integer", "default": 3}}, "required": ["a"], "additionalProperties": False},
    {"oneOf": [{"type": "string", "minLength": 2}, {"type": "integer"}]}, {"type": "string", "pattern": "^a"},
    {"type": "string", "enum": ["a"], "enumDescriptions": ["an annotation"]},
    {"enum": [1, True]}, {"type": "array", "items": [{"type": "string"}]},  # not gateable: jsonschema decides
    {"type": "array", "prefixItems": [{"type": "string"}]}, {"dependentRequired": {"a": ["b"]}},
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SCHEMAS), json_values)
def test_gate_accepts_only_what_jsonschema_accepts(schema, value):
    before = repr(value)
    if certainly_valid(schema, value):
        assert Draft202012Validator(schema).is_valid(value)
    assert repr(value) == before  # defaults are never written into the checked value


def test_every_builtin_config_schema_is_gated_and_its_examples_pass_the_gate():
    for spec in Registry([]).specs() or Registry().specs():
        for example in spec.examples:
            config = {k: v for k, v in example.get("config", {}).items() if k != "connection"}
            if Draft202012Validator(spec.config_schema).is_valid(config):
                assert certainly_valid(spec.config_schema, config), (spec.name, example.get("title"))


def test_every_builtin_config_schema_is_gated():
    from osiris_runtime.schema_gate import _gateable

    assert [s.name for s in Registry().specs() if not _gateable(s.config_schema)] == []


def test_non_string_enums_and_positional_items_are_left_to_jsonschema():
    assert not certainly_valid({"enum": [1]}, True)
    assert not certainly_valid({"type": "array", "items": [{"type": "string"}]}, ["a"])
