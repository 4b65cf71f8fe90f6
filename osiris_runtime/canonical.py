"""Canonical serialization and fingerprints for compiled pipelines.

The same data must give the same bytes on every run, process, hash seed, machine and library
version, so the YAML writer here is ours (a small, fixed subset of YAML) rather than a library's
dumper whose quoting and wrapping change between releases. The rules, also in docs/manifest.md:

- mapping keys sorted (by code point), list order kept;
- scalars: null, true/false, integers, floats in Python's shortest round-trip form (always with a
  `.` or exponent, e.g. `1.0`, `1.0e-05`), strings plain when unambiguous, else JSON-style
  double-quoted; NaN and infinities are refused;
- UTF-8, LF line ends, no trailing spaces, one final newline;
- dates and datetimes (YAML timestamps in the OML) become ISO-8601 strings.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from osiris_runtime.sha256 import sha256

__all__ = [
    "CanonicalError",
    "normalize",
    "canonical_json",
    "canonical_yaml",
    "fingerprint",
    "scalar_text",
]


class CanonicalError(ValueError):
    """A value that has no canonical form (NaN, infinity, an object that is not plain data)."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


def normalize(value: Any) -> Any:
    """Plain JSON data (dict/list/str/int/float/bool/None) from YAML-ish data.

    Subclasses from YAML loaders (ruamel's ScalarFloat, CommentedMap, ...) become their base
    types, so their formatting memory never reaches the output. `CanonicalError.path` says where
    a value without a canonical form sits.
    """
    try:
        return _normalize(value)
    except _NoCanonicalForm as exc:
        path = _locate(value, exc.value) or ()
        where = "/" + "/".join(str(p) for p in path)
        raise CanonicalError(f"{where}: {exc.reason}", path) from None


class _NoCanonicalForm(Exception):
    def __init__(self, value: Any, reason: str) -> None:
        self.value = value
        self.reason = reason


# Types returned as they are (floats are not: they are checked for NaN/infinity).
_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


def _normalize(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN_SCALARS:  # the common case, first
        return value
    if kind is list:
        return [item if type(item) in _PLAIN_SCALARS else _normalize(item) for item in value]
    if kind is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                key = str(key) if isinstance(key, str) else scalar_text(_normalize(key))
            out[key] = item if type(item) in _PLAIN_SCALARS else _normalize(item)
        return out
    if isinstance(value, (list, tuple)):
        return [item if type(item) in _PLAIN_SCALARS else _normalize(item) for item in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise _NoCanonicalForm(value, "NaN and infinity have no canonical form")
        return number
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    raise _NoCanonicalForm(value, f"{type(value).__name__} is not plain data")


def _locate(data: Any, target: Any) -> tuple[str | int, ...] | None:
    """The path of `target` (by identity) inside `data`; only used to explain an error."""
    if data is target:
        return ()
    items = data.items() if isinstance(data, Mapping) else enumerate(data) if isinstance(data, (list, tuple)) else ()
    for key, item in items:
        found = _locate(item, target)
        if found is not None:
            return (key, *found)
    return None


def scalar_text(value: Any) -> str:
    """The text of a scalar when it is spliced into a string (`${params.x}` inside a longer value)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, (str, int)):
        return str(value)
    return json.dumps(normalize(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_json(value: Any) -> bytes:
    """Indented JSON, sorted keys, UTF-8 (non-ASCII kept), final newline."""
    text = json.dumps(normalize(value), sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False)
    return (text + "\n").encode("utf-8")


def fingerprint(value: Any) -> str:
    """`sha256:<hex>` of the compact canonical JSON of a value."""
    text = json.dumps(normalize(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return "sha256:" + sha256(text.encode("utf-8")).hexdigest()


def canonical_yaml(value: Any) -> bytes:
    """Block-style YAML of plain data; lists of scalars in flow style (`[a, b]`)."""
    data = normalize(value)
    lines: list[str] = []
    if isinstance(data, dict):
        _emit_mapping(data, 0, lines)
    elif isinstance(data, list):
        _emit_sequence(data, 0, lines)
    else:
        lines.append(_scalar(data))
    if not lines:  # an empty top-level mapping/list
        lines.append("{}" if isinstance(data, dict) else "[]")
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- YAML emitter -------------------------------------------------------------------------------

# Plain (unquoted) strings: start with a letter, then letters, digits and `_./@-`; no spaces,
# colons or flow indicators, so they read the same in block and flow context; YAML 1.1
# booleans/nulls (`yes`, `off`, `null`, ...) are quoted below.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./@-]*\Z")
_RESERVED = frozenset("y n yes no on off true false null".split())
# Characters YAML cannot hold raw inside a double-quoted scalar (non-printable, or line breaks).
_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def _float_text(number: float) -> str:
    text = repr(number)
    if "." not in text and "e" in text:  # 1e-05 -> 1.0e-05: YAML 1.1 floats need the dot
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    elif "." not in text and "e" not in text:
        text += ".0"
    return text


def _quote(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _scalar(value: Any) -> str:
    if not isinstance(value, str):
        return scalar_text(value)
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return _quote(value)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _inline(value: Any) -> str | None:
    """The one-line form of a value, or None when it needs a block."""
    if _is_scalar(value):
        return _scalar(value)
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    if isinstance(value, list) and all(_is_scalar(item) for item in value):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    return None


def _emit_mapping(data: dict[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key in sorted(data):
        value = data[key]
        inline = _inline(value)
        if inline is not None:
            lines.append(f"{pad}{_scalar(key)}: {inline}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{_scalar(key)}:")
            _emit_mapping(value, indent + 2, lines)
        else:
            lines.append(f"{pad}{_scalar(key)}:")
            _emit_sequence(value, indent, lines)


def _emit_sequence(items: list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        inline = _inline(item)
        if inline is not None:
            lines.append(f"{pad}- {inline}")
        elif isinstance(item, dict):
            # First key on the dash line, the rest aligned under it.
            start = len(lines)
            _emit_mapping(item, indent + 2, lines)
            lines[start] = f"{pad}- {lines[start][indent + 2:]}"
        else:
            start = len(lines)
            _emit_sequence(item, indent + 2, lines)
            lines[start] = f"{pad}- {lines[start][indent + 2:]}"
