"""Canonical serialization: fixed bytes for the same data, YAML that reads back as the same data."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from osiris_runtime.canonical import CanonicalError, canonical_json, canonical_yaml, fingerprint, normalize, scalar_text

_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=30) | st.floats(
    allow_nan=False, allow_infinity=False)
_data = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(_data)
def test_yaml_reads_back_as_the_same_data(value) -> None:
    text = canonical_yaml({"root": value})
    assert YAML(typ="safe", pure=True).load(text) == {"root": normalize(value)}


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _scalars, max_size=8))
def test_key_order_does_not_change_bytes(mapping) -> None:
    reordered = dict(reversed(list(mapping.items())))
    assert canonical_yaml(mapping) == canonical_yaml(reordered)
    assert canonical_json(mapping) == canonical_json(reordered)
    assert fingerprint(mapping) == fingerprint(reordered)


def test_layout_sorted_keys_lf_final_newline_no_trailing_spaces() -> None:
    data = {"b": [1, 2], "a": {"z": None, "w": [{"id": "s1", "needs": []}]}, "c": [["x", "v"], ["z"]], "d": {}}
    assert canonical_yaml(data) == (
        b"a:\n  w:\n  - id: s1\n    needs: []\n  z: null\nb: [1, 2]\nc:\n- [x, v]\n- [z]\nd: {}\n"
    )
    assert canonical_json({"b": 1, "a": "\u00e9"}) == '{\n  "a": "\u00e9",\n  "b": 1\n}\n'.encode()


@pytest.mark.parametrize("text", ["yes", "No", "off", "null", "true", "Y", "2024-01-01", "1e3", "a b", "@mysql.x",
                                  "x: y", "#c", "", "sha256:ab", "[x]", "-", "a,b"])
def test_ambiguous_strings_are_quoted(text: str) -> None:
    line = canonical_yaml({"k": text}).decode()
    assert line.startswith('k: "'), line
    assert YAML(typ="safe", pure=True).load(line) == {"k": text}


def test_fixed_float_format() -> None:
    assert canonical_yaml({"a": 1.0, "b": 1e-05, "c": 1e16, "d": 0.1}) == b"a: 1.0\nb: 1.0e-05\nc: 1.0e+16\nd: 0.1\n"
    assert scalar_text(2.5) == "2.5" and scalar_text(True) == "true" and scalar_text(None) == "null"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, object()])
def test_values_without_canonical_form_are_refused(bad) -> None:
    with pytest.raises(CanonicalError):
        canonical_json({"x": bad})


def test_dates_become_iso_strings_and_line_separators_are_escaped() -> None:
    assert normalize({"d": dt.date(2024, 1, 2)}) == {"d": "2024-01-02"}
    assert canonical_yaml({"s": "a\u2028b\x85"}) == b'"s": "a\\u2028b\\u0085"\n'.replace(b'"s"', b"s")


def test_fingerprint_is_sha256_of_compact_json() -> None:
    import hashlib

    assert fingerprint({"b": 1, "a": [1]}) == "sha256:" + hashlib.sha256(b'{"a":[1],"b":1}').hexdigest()
