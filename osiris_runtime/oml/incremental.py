"""Incremental parsing of OML: re-use the parse of every step whose text did not change.

An edit in a large pipeline changes one step; parsing the other thousands again is most of the
cost of re-validating. `parse_oml_reusing` splits the text into a header (up to and including the
`steps:` line) and one chunk per step item, parses each chunk on its own with the same
`parse_yaml` (a chunk keeps its own lines, so columns are unchanged; lines are shifted by the
chunk's first line) and takes unchanged chunks from a cache the caller owns. The assembled data
and ranges are those of a full parse; whenever the two could differ (a syntax problem, anchors,
tags, tabs, flow-style steps, document markers, anything after the steps) it falls back to the
full `parse_oml`. Unchanged steps share their data with the previous version's document: like
every parsed document, it is read-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from osiris_runtime.oml.document import OmlDocument, parse_oml
from osiris_runtime.oml.rule_reuse import StepRuleResults
from osiris_runtime.oml.yaml_tree import MAX_CHARS, Path, Span, YamlTree, parse_yaml

_STEPS_LINE = re.compile(r"steps:[ ]*(#.*)?$")
_ITEM_START = re.compile(r"( *)-( |$)")
# Constructs whose meaning crosses chunk boundaries or that chunks could read differently:
# anchors, aliases and tags (a token starting with & * !), directives and document markers.
# Conservative: `a != b` in a value also falls back.
_TOKEN_CHAR = re.compile(r"[&*!]")
_TOKEN_BEFORE = " \n,[{"
_NOT_TOKEN_AFTER = " \n,[]{}"
_DOCUMENT_MARKER = re.compile(r"\n(?:---|\.\.\.|%)")
_MARKERS = ("---", "...", "%")
# Tabs, a byte-order mark, and line breaks other than "\n" (YAML also breaks lines at these,
# so a chunk's line numbers would not add up).
_UNSAFE_CHARS = ("\t", "\r", "\ufeff", "\x85", "\u2028", "\u2029")


@dataclass(frozen=True)
class _Chunk:
    """One step item parsed on its own: its data and ranges relative to its first line."""

    data: Any
    values: tuple[tuple[Path, Span], ...]  # paths below the item, in completion order
    keys: tuple[tuple[Path, Span], ...]
    item: Span  # the item's own value range
    sequence: Span  # the range of the one-item sequence (where `steps`' value starts and ends)


@dataclass(frozen=True)
class _Placed:
    """A chunk at a place in a document: its ranges under ("steps", index), lines shifted."""

    chunk: _Chunk
    index: int
    start: int
    values: dict[Path, Span]
    keys: dict[Path, Span]


@dataclass
class StepChunkCache:
    """Parsed step chunks by text, owned by one caller (the LSP worker keeps one per document),
    and what validating their documents found (`validate(..., reuse=cache.rule_results)`)."""

    chunks: dict[str, _Placed] = field(default_factory=dict)
    rule_results: StepRuleResults = field(default_factory=StepRuleResults)


def parse_oml_reusing(text: str, source: str | None, cache: StepChunkCache) -> OmlDocument:
    """The same `OmlDocument` as `parse_oml(text, source)`, re-using unchanged steps' parses.

    The cache keeps the chunks of this text only, so it holds one document's worth at most.
    """
    tree = _assemble(text, cache) if isinstance(text, str) else None
    if tree is None:
        return parse_oml(text, source)
    return OmlDocument(text, source, tree)


def _assemble(text: str, cache: StepChunkCache) -> YamlTree | None:
    if len(text) > MAX_CHARS or any(char in text for char in _UNSAFE_CHARS):
        return None
    if text.startswith(_MARKERS) or _DOCUMENT_MARKER.search(text) or _has_token(text):
        return None
    lines = text.split("\n")
    steps_line = next((n for n, line in enumerate(lines) if _STEPS_LINE.match(line)), None)
    if steps_line is None:
        return None
    bounds = _item_bounds(lines, steps_line + 1)
    if not bounds:
        return None
    header = parse_yaml("\n".join(lines[: steps_line + 1]))
    if header.diagnostics or not isinstance(header.data, dict) or list(header.data)[-1:] != ["steps"]:
        return None
    if header.data["steps"] is not None or () not in header.value_ranges:
        return None

    values: dict[Path, Span] = {p: s for p, s in header.value_ranges.items() if p not in ((), ("steps",))}
    keys: dict[Path, Span] = {p: s for p, s in header.key_ranges.items() if p != ("steps",)}
    items: list[Any] = []
    fresh: dict[str, _Placed] = {}
    first_sequence: Span | None = None
    last_end: tuple[int, int] = (0, 0)
    for index, (start, end) in enumerate(bounds):
        chunk_text = "\n".join(lines[start:end])
        # The same text twice in one document gets its own parse: a full parse never shares data.
        placed = None if chunk_text in fresh else cache.chunks.get(chunk_text)
        if placed is None:
            chunk = _parse_chunk(chunk_text)
            if chunk is None:
                return None
            placed = _place(chunk, index, start)
        elif placed.index != index or placed.start != start:
            placed = _place(placed.chunk, index, start)
        fresh.setdefault(chunk_text, placed)
        values.update(placed.values)
        keys.update(placed.keys)
        chunk = placed.chunk
        items.append(chunk.data)
        if first_sequence is None:
            first_sequence = _shift(chunk.sequence, start)
        last_end = (chunk.sequence[2] + start, chunk.sequence[3])
    cache.chunks = fresh

    assert first_sequence is not None
    data = dict(header.data)
    data["steps"] = items
    keys[("steps",)] = header.key_ranges[("steps",)]
    values[("steps",)] = (first_sequence[0], first_sequence[1], *last_end)
    root = header.value_ranges[()]
    values[()] = (root[0], root[1], *last_end)
    return YamlTree(data, values, keys, (), len(lines))


def _has_token(text: str) -> bool:
    """An anchor, alias or tag: `&`, `*` or `!` starting a token (rare chars: a fast scan)."""
    for match in _TOKEN_CHAR.finditer(text):
        at = match.start()
        before = text[at - 1] if at else " "
        after = text[at + 1] if at + 1 < len(text) else " "
        if before in _TOKEN_BEFORE and after not in _NOT_TOKEN_AFTER:
            return True
    return False


def _item_bounds(lines: list[str], first: int) -> list[tuple[int, int]] | None:
    """(start, end) line numbers of each step item; None when anything follows the steps."""
    indent: int | None = None
    starts: list[int] = []
    for number in range(first, len(lines)):
        line = lines[number]
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        column = len(line) - len(stripped)
        if indent is None:
            match = _ITEM_START.match(line)
            if match is None:
                return None
            indent = column
        if column == indent and _ITEM_START.match(line):
            starts.append(number)
        elif column <= indent:
            return None  # a suffix after the steps (another key, or something unusual)
        elif not starts:
            return None
    return [(start, end) for start, end in zip(starts, [*starts[1:], len(lines)])] if starts else None


def _parse_chunk(chunk_text: str) -> _Chunk | None:
    tree = parse_yaml(chunk_text)
    if tree.diagnostics or not isinstance(tree.data, list) or len(tree.data) != 1:
        return None
    if (0,) not in tree.value_ranges or () not in tree.value_ranges:
        return None
    values = tuple((p[1:], s) for p, s in tree.value_ranges.items() if len(p) > 1)
    keys = tuple((p[1:], s) for p, s in tree.key_ranges.items() if len(p) > 1)
    return _Chunk(tree.data[0], values, keys, tree.value_ranges[(0,)], tree.value_ranges[()])


def _place(chunk: _Chunk, index: int, start: int) -> _Placed:
    prefix: Path = ("steps", index)
    values = {prefix + path: _shift(span, start) for path, span in chunk.values}
    values[prefix] = _shift(chunk.item, start)
    keys = {prefix + path: _shift(span, start) for path, span in chunk.keys}
    return _Placed(chunk, index, start, values, keys)


def _shift(span: Span, lines: int) -> Span:
    return (span[0] + lines, span[1], span[2] + lines, span[3])
