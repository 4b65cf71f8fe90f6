"""Incremental parsing of OML: re-use the parse of every step whose text did not change.

An edit in a large pipeline changes one step; parsing the other thousands again is most of the
cost of re-validating. `parse_oml_reusing` splits the text into a header (up to and including the
`steps:` line) and one chunk per step item, parses each chunk on its own with the same
`parse_yaml` (a chunk keeps its own lines, so columns are unchanged; lines are shifted by the
chunk's first line) and takes unchanged chunks from a cache the caller owns. The assembled data
and ranges are those of a full parse; whenever the two could differ (a syntax problem, anchors,
tags, tabs, flow-style steps, document markers, anything after the steps) it falls back to the
full `parse_oml`. Unchanged steps share their data with the previous version's document: like
every parsed document, it is read-only. An edit inside one step that keeps the number of lines
(typing in a value) is found by comparing the text with the last one: only that step is parsed,
and the other steps' places and ranges are taken as they were.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from osiris_runtime.oml.document import OmlDocument, parse_oml
from osiris_runtime.oml.rule_reuse import StepRuleResults
from osiris_runtime.oml.yaml_tree import MAX_CHARS, Path, Span, YamlTree, parse_yaml

_STEPS_LINE = re.compile(r"^steps:[ ]*(#.*)?$", re.MULTILINE)
# Constructs whose meaning crosses chunk boundaries or that chunks could read differently:
# anchors, aliases and tags (a token starting with & * !), directives and document markers.
# Conservative: `a != b` in a value also falls back.
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


@dataclass(frozen=True)
class _Layout:
    """Where the last document's step items are: its text, each item's offset, their indent."""

    text: str
    offsets: list[int]
    indent: int


# (header, placed step items, parses by text, layout)
_LaidOut = tuple[YamlTree, list[_Placed], dict[str, _Placed], _Layout]


@dataclass
class StepChunkCache:
    """Parsed step chunks by text, owned by one caller (the LSP worker keeps one per document),
    and what validating their documents found (`validate(..., reuse=cache.rule_results)`)."""

    chunks: dict[str, _Placed] = field(default_factory=dict)
    # The last assembled document's (header values, header keys, placements, values, keys).
    assembled: tuple[Any, ...] | None = None
    layout: _Layout | None = None
    header: YamlTree | None = None  # its header's parse, and that parse's ranges without `steps`
    header_ranges: tuple[dict[Path, Span], dict[Path, Span]] = ({}, {})
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
    laid_out = _edited_in_one_step(text, cache) or _lay_out(text, cache)
    if laid_out is None:
        return None
    header, placements, fresh, layout = laid_out
    cache.chunks, cache.layout = fresh, layout
    header_values, header_keys = cache.header_ranges if laid_out[0] is cache.header else _header_ranges(header, cache)

    first, last = placements[0], placements[-1]
    first_sequence = _shift(first.chunk.sequence, first.start)
    last_end = (last.chunk.sequence[2] + last.start, last.chunk.sequence[3])
    values, keys = _ranges(header_values, header_keys, placements, cache)
    data = dict(header.data)
    data["steps"] = [placed.chunk.data for placed in placements]
    keys[("steps",)] = header.key_ranges[("steps",)]
    values[("steps",)] = (first_sequence[0], first_sequence[1], *last_end)
    root = header.value_ranges[()]
    values[()] = (root[0], root[1], *last_end)
    cache.assembled = (header_values, header_keys, placements, values, keys)
    return YamlTree(data, values, keys, (), text.count("\n") + 1)


def _lay_out(text: str, cache: StepChunkCache) -> _LaidOut | None:
    """The header and every step item, found and placed (parses taken from `cache` by text)."""
    steps = _STEPS_LINE.search(text)  # the first `steps:` line (no split of the whole text: it is large)
    if steps is None:
        return None
    steps_line = text.count("\n", 0, steps.start())
    found = _item_bounds(text, steps.end() + 1, steps_line + 1)
    if not found:
        return None
    indent, bounds = found
    header = parse_yaml(text[: steps.end()])
    if header.diagnostics or not isinstance(header.data, dict) or list(header.data)[-1:] != ["steps"]:
        return None
    if header.data["steps"] is not None or () not in header.value_ranges:
        return None
    placements: list[_Placed] = []
    fresh: dict[str, _Placed] = {}
    for index, (start, _offset, chunk_text) in enumerate(bounds):
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
        placements.append(placed)
    return header, placements, fresh, _Layout(text, [offset for _, offset, _ in bounds], indent)


def _edited_in_one_step(text: str, cache: StepChunkCache) -> _LaidOut | None:
    """The last document laid out again when `text` differs from its text inside one step item
    only, on as many lines (typing in a value): that item is parsed, nothing else is looked at.
    None whenever the edit could mean more (then everything is laid out again)."""
    layout = cache.layout
    if layout is None or cache.header is None or cache.assembled is None:
        return None
    before, offsets, indent = layout.text, layout.offsets, layout.indent
    placements: list[_Placed] = cache.assembled[2]
    if len(offsets) != len(placements):
        return None
    start = _common_prefix(before, text)
    if start == len(before) == len(text):
        return cache.header, placements, cache.chunks, layout  # the same text
    common_end = _common_suffix(before, text, min(len(before), len(text)) - start)
    old_end, new_end = len(before) - common_end, len(text) - common_end
    k = bisect.bisect_right(offsets, start) - 1
    if k < 0 or start < offsets[k] + indent + 2:
        return None  # in the header, or at an item's `- `
    chunk_end = offsets[k + 1] - 1 if k + 1 < len(offsets) else len(before)
    if old_end > chunk_end or before.count("\n", start, old_end) != text.count("\n", start, new_end):
        return None  # past the item, or lines added or removed
    shift = len(text) - len(before)
    chunk_text = text[offsets[k]: chunk_end + shift]
    for match in _shallow_lines(indent).finditer(chunk_text):
        if chunk_text[match.end()] != "#":
            return None  # a line of the item now starts a new item, or something after the steps
    chunk = _parse_chunk(chunk_text)
    if chunk is None:
        return None
    old = placements[k]
    placed = _place(chunk, k, old.start)
    fresh = dict(cache.chunks)
    old_text = before[offsets[k]: chunk_end]
    if fresh.get(old_text) is old:
        del fresh[old_text]
    fresh.setdefault(chunk_text, placed)
    moved = [*placements[:k], placed, *placements[k + 1:]]
    return cache.header, moved, fresh, _Layout(text, [*offsets[: k + 1], *(o + shift for o in offsets[k + 1:])], indent)


def _common_prefix(a: str, b: str) -> int:
    """How many leading characters `a` and `b` share (compared in blocks: they are large)."""
    size, at, limit = 4096, 0, min(len(a), len(b))
    while at < limit and a[at: at + size] == b[at: at + size]:
        at += size
    if at >= limit:
        return limit
    while at < limit and a[at] == b[at]:
        at += 1
    return at


def _common_suffix(a: str, b: str, limit: int) -> int:
    """How many trailing characters `a` and `b` share, at most `limit`."""
    size, count = 4096, 0
    while count < limit:
        step = min(size, limit - count)
        if a[len(a) - count - step: len(a) - count] != b[len(b) - count - step: len(b) - count]:
            break
        count += step
    else:
        return limit
    while count < limit and a[len(a) - count - 1] == b[len(b) - count - 1]:
        count += 1
    return count


def _header_ranges(header: YamlTree, cache: StepChunkCache) -> tuple[dict[Path, Span], dict[Path, Span]]:
    ranges = ({p: s for p, s in header.value_ranges.items() if p not in ((), ("steps",))},
              {p: s for p, s in header.key_ranges.items() if p != ("steps",)})
    cache.header, cache.header_ranges = header, ranges
    return ranges


def _ranges(header_values: dict[Path, Span], header_keys: dict[Path, Span], placements: list[_Placed],
            cache: StepChunkCache) -> tuple[dict[Path, Span], dict[Path, Span]]:
    """The value and key ranges of the header and every step, in document order.

    Merging 2,000 steps' ranges is a third of assembling; when only some steps changed, and
    their paths did not (a value was edited), the last document's ranges are copied and the
    changed steps' written over them: the same dicts in the same order.
    """
    before = cache.assembled
    if before is not None and before[0] == header_values and before[1] == header_keys and len(before[2]) == len(placements):
        changed = [(old, new) for old, new in zip(before[2], placements) if old is not new]
        if all(old.index == new.index and old.start == new.start and list(old.values) == list(new.values)
               and list(old.keys) == list(new.keys) for old, new in changed):
            values, keys = dict(before[3]), dict(before[4])
            for _old, new in changed:
                values.update(new.values)
                keys.update(new.keys)
            return values, keys
    values, keys = dict(header_values), dict(header_keys)
    for placed in placements:
        values.update(placed.values)
        keys.update(placed.keys)
    return values, keys


def _has_token(text: str) -> bool:
    """An anchor, alias or tag: `&`, `*` or `!` starting a token (rare chars: a fast scan)."""
    for at in _occurrences(text, "&*!"):
        before = text[at - 1] if at else " "
        after = text[at + 1] if at + 1 < len(text) else " "
        if before in _TOKEN_BEFORE and after not in _NOT_TOKEN_AFTER:
            return True
    return False


def _occurrences(text: str, chars: str) -> Iterator[int]:
    """Where each of `chars` occurs (str.find: far quicker than a regular expression's scan)."""
    for char in chars:
        at = text.find(char)
        while at >= 0:
            yield at
            at = text.find(char, at + 1)


def _item_bounds(text: str, offset: int, line: int) -> tuple[int, list[tuple[int, int, str]]] | None:
    """The items' indent, and (first line, offset, text) of each step item of the `steps` list
    starting at `offset` (line `line`); None when anything follows the steps.

    Only lines indented no deeper than the items matter, so a regular expression finds them (a
    2,000-step file has 2,000 of those among 17,000 lines).
    """
    first = _FIRST_CONTENT.search(text, offset)
    if first is None or not _is_item(text, first.end() - 1):
        return None
    indent = len(first.group(1))
    starts: list[tuple[int, int]] = []  # (offset, line) of each item
    counted = offset
    # From the newline before the first item (the `steps:` line precedes it): `\n` first is a fast scan.
    for match in _shallow_lines(indent).finditer(text, first.start() - 1):
        begin, at = match.start() + 1, match.end()
        if text[at] == "#":
            continue  # a comment
        if at - begin != indent or not _is_item(text, at):
            return None  # a suffix after the steps (another key, or something unusual)
        line += text.count("\n", counted, begin)
        counted = begin
        starts.append((begin, line))
    ends = [start - 1 for start, _ in starts[1:]] + [len(text)]  # each item ends before the next one's line
    return indent, [(number, start, text[start:end]) for (start, number), end in zip(starts, ends)]


def _is_item(text: str, at: int) -> bool:
    """A `-` at `at` followed by a space or the end of its line: a sequence item starts there."""
    return text.startswith("- ", at) or text.startswith("-\n", at) or at + 1 == len(text) and text[at] == "-"


_FIRST_CONTENT = re.compile(r"^( *)[^ \n#]", re.MULTILINE)


@functools.lru_cache(maxsize=16)
def _shallow_lines(indent: int) -> re.Pattern[str]:
    """Line starts whose content is indented `indent` spaces or fewer."""
    return re.compile(rf"\n {{0,{indent}}}(?=[^ \n])")


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
