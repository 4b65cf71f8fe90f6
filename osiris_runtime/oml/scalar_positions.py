"""Where a character of a YAML scalar's *value* sits in the document's text.

A SQL error at offset 40 of a `query:` value must be shown at its real line and column, whether
the query was written as a literal block (`|`), a folded block (`>-`), a plain multi-line scalar
or a single- or double-quoted string. YAML removes indentation, folds line breaks and unescapes
quotes, so the offsets of the value and of the source differ; `scalar_offsets` walks both side by
side and maps each value character to a source position.
"""

from __future__ import annotations

from typing import Sequence

from osiris_runtime.errors import Position, Range


def scalar_offsets(lines: Sequence[str], rng: Range, value: str) -> list[Position]:
    """One document position per character of `value` (plus one for the end), for the scalar at `rng`.

    Characters the source does not hold literally (a folded line break, an escape) map to where
    they come from; a value that cannot be aligned maps every character to the scalar's start.
    """
    source, origins = _source_text(lines, rng)
    if not source:
        return [rng.start] * (len(value) + 1)
    first = source[0]
    style = first if first in "|>'\"" else "plain"
    i = _body_start(source, style)
    out: list[Position] = []
    for ch in value:
        if style == '"' and source.startswith("\\", i):
            out.append(origins[i])
            i += _escape_length(source, i)
            continue
        if style == "'" and source.startswith("''", i) and ch == "'":
            out.append(origins[i])
            i += 2
            continue
        if ch.isspace():
            out.append(origins[min(i, len(source) - 1)])
            if i < len(source) and source[i].isspace():
                i += 1
            continue
        j = source.find(ch, i)
        if j < 0:
            return [rng.start] * (len(value) + 1)
        out.append(origins[j])
        i = j + 1
    out.append(origins[min(i, len(source) - 1)] if i < len(source) else rng.end)
    return out


def value_range(lines: Sequence[str], rng: Range, value: str, start: int, end: int) -> Range:
    """The document range of `value[start:end]` for the scalar at `rng`."""
    offsets = scalar_offsets(lines, rng, value)
    start = max(0, min(start, len(value)))
    end = max(start, min(end, len(value)))
    last = offsets[end - 1] if end > start else offsets[start]
    finish = Position(last.line, last.column + 1) if end > start else last
    return Range(offsets[start], finish)


def _source_text(lines: Sequence[str], rng: Range) -> tuple[str, list[Position]]:
    chars: list[str] = []
    origins: list[Position] = []
    for line_no in range(rng.start.line, min(rng.end.line, len(lines) - 1) + 1):
        text = lines[line_no]
        begin = rng.start.column if line_no == rng.start.line else 0
        stop = rng.end.column if line_no == rng.end.line else len(text)
        for col in range(begin, min(stop, len(text))):
            chars.append(text[col])
            origins.append(Position(line_no, col))
        if line_no != rng.end.line:
            chars.append("\n")
            origins.append(Position(line_no, len(text)))
    return "".join(chars), origins


def _body_start(source: str, style: str) -> int:
    if style in "|>":
        newline = source.find("\n")
        return len(source) if newline < 0 else newline + 1  # past the header (`|-`, `>2`, a comment)
    return 1 if style in "'\"" else 0


def _escape_length(source: str, i: int) -> int:
    nxt = source[i + 1:i + 2]
    return {"x": 4, "u": 6, "U": 10}.get(nxt, 2)
