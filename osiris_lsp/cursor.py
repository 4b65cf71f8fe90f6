"""Where is the cursor in an OML document? Worked out from the text lines and their indentation.

The parsed tree is no help while the user types: a half-written line rarely parses. So completion
and hover read the lines around the cursor instead, the way an editor user reads them: the line
being typed says whether a key or a value is wanted, and walking upwards through less-indented
lines gives the path (`steps` -> item 3 -> `config`). Only the lines between the cursor and its
ancestors are read, so the cost does not grow with the size of the document below the cursor.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Sequence

COMPONENT_KEYS = ("component", "type", "uses")  # `type`/`uses` are legacy spellings
CONFIG_KEYS = ("config", "with")  # `with` is the legacy spelling

_SHAPE = re.compile(
    r"^(?P<ind> *)(?:(?P<dash>-)(?: +|$))?"
    r"(?:(?P<key>[\w.$@/-]+|\"[^\"]*\"|'[^']*')[ \t]*:(?=[ \t]|$)[ \t]*(?P<value>.*))?"
)
_KEY_VALUE_BEFORE_CURSOR = re.compile(
    r"^(?P<ind> *)(?:(?P<dash>-) +)?(?P<key>[\w.$@/-]+|\"[^\"]*\"|'[^']*')[ \t]*:(?:[ \t]+(?P<value>.*)|$)"
)
_KEY_SLOT_BEFORE_CURSOR = re.compile(r"^(?P<ind> *)(?:(?P<dash>-)(?: +|$))?(?P<word>[\w.$@/-]*)$")
_PARAMS_REF = re.compile(r"\$\{\s*params\.(?P<word>[\w-]*)$")
_WORD_AFTER = re.compile(r"^[\w.$@/-]*")
_VALUE_WORD_AFTER = re.compile(r"^[^\s,\]\"'}]*")


class ContextKind(enum.Enum):
    TOP_LEVEL_KEY = "top-level-key"
    STEP_KEY = "step-key"
    COMPONENT = "component"
    MODE = "mode"
    CONFIG_KEY = "config-key"
    CONFIG_VALUE = "config-value"
    CONNECTION_REF = "connection-ref"
    NEEDS_ITEM = "needs-item"
    PARAMS_REF = "params-ref"
    NONE = "none"


@dataclass(frozen=True)
class LineShape:
    """One significant line: where its dash and key sit, and the text after `key:`."""

    indent: int
    dash: int | None
    key: str | None
    key_col: int
    value: str


@dataclass(frozen=True)
class Frame:
    """A container on the way from the root to the cursor: a key, or an item of a sequence."""

    name: str | int
    line: int
    level: int  # the key column of the mapping this key belongs to / of the item's mapping


@dataclass(frozen=True)
class CompletionContext:
    kind: ContextKind
    path: tuple[str | int, ...] = ()
    prefix: str = ""
    line: int = 0
    start: int = 0  # replace range on `line`: [start, end)
    end: int = 0
    key: str | None = None  # the key whose value is being typed
    step_index: int | None = None
    component: str | None = None  # the `component:` of the enclosing step, if written
    present_keys: frozenset[str] = frozenset()
    quote: str | None = None  # the quote the value was opened with, if any
    flow: bool = False  # inside a `[a, b]` flow sequence
    frames: tuple[Frame, ...] = field(default=(), compare=False)


def shape_of(line: str) -> LineShape | None:
    """The shape of a line, or None for blank lines, comments and document markers."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
        return None
    line = line.rstrip("\r\n")
    m = _SHAPE.match(line)
    assert m is not None  # every group is optional
    indent = len(m["ind"])
    dash = indent if m["dash"] else None
    if m["key"] is None:
        key_col = indent
        if dash is not None:
            rest = line[indent + 1 :]
            key_col = indent + 1 + len(rest) - len(rest.lstrip(" "))
        return LineShape(indent, dash, None, key_col, _strip_comment(line[key_col:]).strip())
    return LineShape(indent, dash, _unquote(m["key"]), m.start("key"), _strip_comment(m["value"] or ""))


def ancestors(lines: Sequence[str], line_no: int, level: int, dash_col: int | None = None) -> list[Frame]:
    """Frames from the root to the container of a slot at (`line_no`, `level`).

    `level` is the key column of the mapping the slot belongs to; `dash_col` is set when the slot's
    own line starts a sequence item (`- key`), so the mapping is that item.
    """
    frames: list[Frame] = []
    in_sequence = dash_col is not None
    seq_level = dash_col if dash_col is not None else 0
    item_line, item_level, item_count = line_no, level, 0
    for n in range(line_no - 1, -1, -1):
        text = lines[n]
        if text[: (seq_level if in_sequence else level) + 1].isspace():
            continue  # indented deeper than anything we look for: content of a sibling
        if in_sequence and _is_item_at(text, seq_level):
            item_count += 1  # an earlier item of the same sequence (the common case: skip the regex)
            continue
        shape = shape_of(text)
        if shape is None:
            continue
        if in_sequence:
            if shape.dash == seq_level:
                item_count += 1
                continue
            if shape.indent > seq_level:
                continue
            if shape.key is None:
                break
            frames.append(Frame(item_count, item_line, item_level))
            frames.append(Frame(shape.key, n, shape.key_col))
            in_sequence = False
            level = shape.key_col
        else:
            if shape.key_col > level:
                continue
            if shape.key_col == level:
                if shape.dash is not None:  # first key of the item our mapping is
                    in_sequence, seq_level = True, shape.dash
                    item_line, item_level, item_count = n, level, 0
                continue
            if shape.key is None:
                if shape.dash is not None:  # "-" alone, the mapping starts on the next line
                    in_sequence, seq_level = True, shape.dash
                    item_line, item_level, item_count = n, level, 0
                    continue
                break
            frames.append(Frame(shape.key, n, shape.key_col))
            level = shape.key_col
        if shape.dash is not None:
            in_sequence, seq_level = True, shape.dash
            item_line, item_level, item_count = n, shape.key_col, 0
    if in_sequence:
        frames.append(Frame(item_count, item_line, item_level))
    frames.reverse()
    return frames


def _is_item_at(text: str, column: int) -> bool:
    return (
        text.startswith("-", column)
        and (column == 0 or text[:column].isspace())
        and (len(text) == column + 1 or text[column + 1] in " \t\r\n")
    )


def mapping_keys(lines: Sequence[str], first_line: int, level: int) -> dict[str, tuple[int, str]]:
    """Keys of the block mapping whose keys sit at column `level`, starting at `first_line`.

    Values are (line, text after the colon). Stops at the first line indented less than `level`.
    """
    keys: dict[str, tuple[int, str]] = {}
    for n in range(first_line, len(lines)):
        text = lines[n]
        if n > first_line and text[: level + 1].isspace():
            continue  # deeper than the mapping: a value's content
        shape = shape_of(text)
        if shape is None:
            continue
        if n > first_line and (shape.indent < level or (shape.dash is not None and shape.key_col <= level)):
            break
        if shape.key is not None and shape.key_col == level:
            keys.setdefault(shape.key, (n, shape.value))
    return keys


def child_mapping(lines: Sequence[str], key_line: int) -> tuple[int, int] | None:
    """(first line, key column) of the block mapping under the key on `key_line`, if there is one."""
    parent = shape_of(lines[key_line])
    if parent is None:
        return None
    for n in range(key_line + 1, len(lines)):
        shape = shape_of(lines[n])
        if shape is None:
            continue
        if shape.indent <= parent.key_col and not (shape.dash is not None and shape.dash >= parent.key_col):
            return None
        return (n, shape.key_col) if shape.key is not None else None
    return None


def scalar(text: str) -> str:
    """A plain or quoted YAML scalar as written on one line, without quotes or comment."""
    return _unquote(_strip_comment(text).strip())


def completion_context(lines: Sequence[str], line: int, column: int) -> CompletionContext:
    """What can be typed at (`line`, `column`) (zero-based, code points), from the text alone."""
    if line >= len(lines):
        return CompletionContext(ContextKind.TOP_LEVEL_KEY if column == 0 else ContextKind.NONE, line=line)
    text = lines[line].rstrip("\r\n")
    before, after = text[:column], text[column:]

    params = _PARAMS_REF.search(before)
    if params:
        word = params["word"]
        end = column + _WORD_AFTER.match(after).end()  # type: ignore[union-attr]
        return CompletionContext(ContextKind.PARAMS_REF, prefix=word, line=line, start=column - len(word), end=end)

    kv = _KEY_VALUE_BEFORE_CURSOR.match(before)
    if kv:
        return _value_context(lines, line, column, kv, after)
    slot = _KEY_SLOT_BEFORE_CURSOR.match(before)
    if slot:
        return _key_context(lines, line, column, slot, after)
    return CompletionContext(ContextKind.NONE, line=line)


def _key_context(lines: Sequence[str], line: int, column: int, slot: re.Match[str], after: str) -> CompletionContext:
    word = slot["word"]
    dash_col = len(slot["ind"]) if slot["dash"] else None
    level = column - len(word)
    frames = ancestors(lines, line, level, dash_col)
    path = tuple(f.name for f in frames)
    end = column + _WORD_AFTER.match(after).end()  # type: ignore[union-attr]
    base = dict(path=path, prefix=word, line=line, start=column - len(word), end=end, frames=tuple(frames))
    step_index, component, step_keys = _step_facts(lines, frames)
    base.update(step_index=step_index, component=component)

    if len(path) >= 2 and isinstance(path[-1], int) and path[-2] == "needs" and len(path) == 4 and path[0] == "steps":
        return CompletionContext(ContextKind.NEEDS_ITEM, **base)
    if dash_col is not None and path != ("steps", path[-1] if path else None):
        return CompletionContext(ContextKind.NONE, **base)

    present = _present_keys(lines, line, frames, level) - {word}
    if path == ():
        return CompletionContext(ContextKind.TOP_LEVEL_KEY, present_keys=present, **base)
    if len(path) == 2 and path[0] == "steps" and isinstance(path[1], int):
        return CompletionContext(ContextKind.STEP_KEY, present_keys=present, **base)
    if len(path) == 3 and path[0] == "steps" and path[2] in CONFIG_KEYS:
        return CompletionContext(ContextKind.CONFIG_KEY, present_keys=present, **base)
    return CompletionContext(ContextKind.NONE, **base)


def _value_context(lines: Sequence[str], line: int, column: int, kv: re.Match[str], after: str) -> CompletionContext:
    key = _unquote(kv["key"])
    raw = kv["value"] or ""
    dash_col = len(kv["ind"]) if kv["dash"] else None
    frames = ancestors(lines, line, kv.start("key"), dash_col)
    path = tuple(f.name for f in frames)
    step_index, component, _ = _step_facts(lines, frames)

    flow = raw.lstrip().startswith("[")
    if flow:
        raw = re.split(r"[\[,]", raw)[-1]
    prefix = raw.lstrip()
    quote = prefix[0] if prefix[:1] in ("'", '"') else None
    if quote:
        prefix = prefix[1:]
    end = column + _VALUE_WORD_AFTER.match(after).end()  # type: ignore[union-attr]
    base = dict(
        path=path + (key,), prefix=prefix, line=line, start=column - len(prefix), end=end, key=key,
        step_index=step_index, component=component, quote=quote, flow=flow, frames=tuple(frames),
    )
    in_step = len(path) == 2 and path[0] == "steps" and isinstance(path[1], int)
    in_config = len(path) == 3 and path[0] == "steps" and path[2] in CONFIG_KEYS
    if in_step and key in COMPONENT_KEYS:
        return CompletionContext(ContextKind.COMPONENT, **base)
    if in_step and key == "mode":
        return CompletionContext(ContextKind.MODE, **base)
    if in_step and key == "needs" and flow:
        present = frozenset(scalar(p) for p in re.split(r"[\[,]", kv["value"] or "")[1:-1] if p.strip())
        return CompletionContext(ContextKind.NEEDS_ITEM, present_keys=present, **base)
    if in_config and key == "connection":
        return CompletionContext(ContextKind.CONNECTION_REF, **base)
    if in_config:
        return CompletionContext(ContextKind.CONFIG_VALUE, **base)
    return CompletionContext(ContextKind.NONE, **base)


def _step_facts(lines: Sequence[str], frames: Sequence[Frame]) -> tuple[int | None, str | None, dict[str, tuple[int, str]]]:
    """(index, component, keys) of the step enclosing the frames, when inside `steps`."""
    if len(frames) < 2 or frames[0].name != "steps" or not isinstance(frames[1].name, int):
        return None, None, {}
    item = frames[1]
    keys = mapping_keys(lines, item.line, item.level)
    component = next((scalar(keys[k][1]) for k in COMPONENT_KEYS if k in keys), None)
    return item.name, component or None, keys  # type: ignore[return-value]


def _present_keys(lines: Sequence[str], line: int, frames: Sequence[Frame], level: int) -> frozenset[str]:
    """Keys already written in the mapping the slot belongs to (above and below the cursor)."""
    if frames and isinstance(frames[-1].name, int):
        first = frames[-1].line  # the item's dash line holds its first key
    elif frames:
        first = frames[-1].line + 1
    else:
        first = 0
    keys = set(mapping_keys(lines, first, level)) if first != line else set()
    # below the cursor: the block may continue after the line being typed
    keys.update(mapping_keys(lines, line, level))
    own = shape_of(lines[line])
    if own is not None and own.key is not None and own.key_col == level:
        keys.discard(own.key)
    return frozenset(keys)


def _strip_comment(text: str) -> str:
    if "#" not in text:
        return text
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
