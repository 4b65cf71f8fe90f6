"""Tolerant YAML loading with positions: plain data plus the range of every key and value.

One pass over ruamel.yaml's event stream (the libyaml-based C parser when installed, else the
pure-Python one) builds plain Python data and a `path -> Range` index at the same time. Working
from events rather than composed nodes keeps us in control of the three hostile-input limits:
nesting depth (the node composer recurses and can overflow the C stack), alias expansion
("billion laughs": an alias costs the size of what it points to, against a budget) and input size.

Broken YAML never raises: the first error becomes a located `yaml.syntax` diagnostic, the
offending lines are blanked (line numbers stay true) and the text is parsed again, a few times,
so that a half-typed document still yields everything around the mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from osiris_runtime.errors import Diagnostic, Position, Range, Severity

Path = tuple[Any, ...]
# A range as a plain tuple (line, column, end line, end column): thousands are made per parse,
# and `Range` objects are only built for the few that a caller asks for.
Span = tuple[int, int, int, int]

# ~12,000 steps: far above real pipelines, and validation of the largest stays within seconds.
MAX_CHARS = 2_000_000
MAX_DEPTH = 100
# Alias expansion budget, in nodes, on top of the document's own nodes.
MAX_ALIAS_EXPANSION = 100_000
MAX_REPARSES = 8  # parses of a broken document, in all

_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")
_INT = re.compile(r"[-+]?[0-9]+$")
_INT_OCT = re.compile(r"0o[0-7]+$")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUES = frozenset({"true", "True", "TRUE"})
_FALSES = frozenset({"false", "False", "FALSE"})
_SPECIAL_FLOATS = {
    ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
    "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
    "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
    ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
}
_STR_TAG = "tag:yaml.org,2002:str"
_STARTS = (ev.MappingStartEvent, ev.SequenceStartEvent)
_ENDS = (ev.MappingEndEvent, ev.SequenceEndEvent)


@dataclass(frozen=True)
class YamlTree:
    """What could be read from a YAML text: data, ranges by path, and the problems found."""

    data: Any
    value_ranges: dict[Path, Span]  # (line, column, end line, end column), zero-based
    key_ranges: dict[Path, Span]
    diagnostics: tuple[Diagnostic, ...]
    line_count: int


def resolve_plain_scalar(value: str) -> Any:
    """YAML 1.2 core schema for an untagged plain scalar (dates stay strings, on purpose)."""
    if value in _NULLS:
        return None
    if value in _TRUES:
        return True
    if value in _FALSES:
        return False
    first = value[0]
    if first.isdigit() or first in "+-.":
        if _INT.match(value):
            return int(value)
        if _FLOAT.match(value):
            return float(value)
        if _INT_OCT.match(value):
            return int(value[2:], 8)
        if _INT_HEX.match(value):
            return int(value[2:], 16)
        if value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
    return value


def _tagged_scalar(tag: str, value: str) -> Any:
    kind = tag.rsplit(":", 1)[-1]
    try:
        if kind == "int":
            return int(value, 0) if not _INT.match(value) else int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            return value in _TRUES or value.lower() in {"yes", "on", "y"}
        if kind == "null":
            return None
    except ValueError:
        return value
    return value


def _event_stream(text: str, *, use_c: bool = True) -> Iterator[Any]:
    CBaseLoader = None
    if use_c:
        try:
            from ruamel.yaml.cyaml import CBaseLoader
        except ImportError:  # no C extension on this platform: the pure-Python parser is slower, not different
            pass
    if CBaseLoader is not None:
        loader = CBaseLoader(text)
        while True:
            event = loader.get_event()
            yield event
            if isinstance(event, ev.StreamEndEvent):
                return
    from ruamel.yaml import YAML

    yield from YAML(typ="safe", pure=True).parse(text)


def _span(start: Any, end: Any) -> Span:
    return (start.line, start.column, end.line, end.column)


def to_range(span: Span) -> Range:
    return Range(Position(span[0], span[1]), Position(span[2], span[3]))


def _hashable_key(key: Any, key_span: Span) -> Any:
    try:
        hash(key)
        return key
    except TypeError:
        return f"<complex key at {key_span[0] + 1}:{key_span[1] + 1}>"


class _Frame:
    """An open mapping or sequence. A plain class with slots: made once per container while
    parsing, and a dataclass would cost about 1 ms to define on every CLI start."""

    __slots__ = ("is_map", "container", "path", "start", "anchor", "flow", "last_end", "weight",
                 "pending_key", "pending_key_span", "has_pending_key", "merges")

    def __init__(self, *, is_map: bool, container: Any, path: Path | None, start: tuple[int, int],
                 anchor: str | None, flow: bool = False) -> None:
        self.is_map = is_map
        self.container = container
        self.path = path  # None: inside a complex key, nothing is indexed
        self.start = start
        self.anchor = anchor
        self.flow = flow
        self.last_end: tuple[int, int] | None = None
        self.weight = 1
        self.pending_key: Any = None
        self.pending_key_span: Span | None = None
        self.has_pending_key = False
        self.merges: list[Any] = []


class _TreeBuilder:
    """Turns events into data + ranges; keeps whatever was built when the stream breaks."""

    def __init__(self) -> None:
        self.root: Any = None
        self.values: dict[Path, Span] = {}
        self.keys: dict[Path, Span] = {}
        self.diagnostics: list[Diagnostic] = []
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.expanded = 0
        self.too_deep_at = 0  # >0 while skipping a too-deep subtree: the depth we're at inside it
        self.documents = 0
        self.alias_limit_reported = False

    # -- where the next completed node goes --------------------------------------------------
    def _child_path(self) -> Path | None:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if frame.path is None:
            return None
        if frame.is_map:
            if not frame.has_pending_key:
                return None  # a complex key: its inner ranges are not addressable
            return frame.path + (frame.pending_key,)
        return frame.path + (len(frame.container),)

    def _complete(self, value: Any, rng: Span, weight: int, anchor: str | None, path: Path | None) -> None:
        if anchor:
            self.anchors[anchor] = (value, weight)
        if not self.stack:
            if self.documents == 1:
                self.root = value
                if path is not None:
                    self.values[path] = rng
            return
        frame = self.stack[-1]
        frame.weight += weight
        frame.last_end = (rng[2], rng[3])
        if not frame.is_map:
            if path is not None:
                self.values[path] = rng
            frame.container.append(value)
            return
        if not frame.has_pending_key:
            key = _hashable_key(value, rng)
            frame.pending_key, frame.pending_key_span, frame.has_pending_key = key, rng, True
            return
        key, key_range = frame.pending_key, frame.pending_key_span
        frame.has_pending_key = False
        if key == "<<" and frame.path is not None:
            frame.merges.append(value)
            return
        if key in frame.container:
            self.diagnostics.append(
                Diagnostic(
                    "yaml.duplicate-key",
                    f"duplicate key `{key}`; the first one is kept",
                    to_range(key_range or rng),
                    fix="remove or rename one of the two keys",
                    data={"key": str(key)},
                )
            )
            return
        frame.container[key] = value
        if path is not None and key_range is not None:
            self.keys[path] = key_range
            self.values[path] = rng

    # -- events ------------------------------------------------------------------------------
    def feed(self, event: Any) -> bool:
        """Consume one event; False once the first document is finished."""
        cls = type(event)
        if self.too_deep_at:
            if cls in _STARTS:
                self.too_deep_at += 1
            elif cls in _ENDS:
                self.too_deep_at -= 1
                if self.too_deep_at == 0:
                    self._complete(None, _span(event.start_mark, event.end_mark), 1, None, None)
            return True
        if cls is ev.ScalarEvent:
            rng = _span(event.start_mark, event.end_mark)
            if event.tag and event.tag not in ("!", _STR_TAG) and event.tag.startswith("tag:yaml.org,2002:"):
                value = _tagged_scalar(event.tag, event.value)
            elif event.tag or event.style or not event.implicit[0]:
                value = event.value
            else:
                value = resolve_plain_scalar(event.value)
            self._complete(value, rng, 1, event.anchor, self._child_path())
        elif cls in _STARTS:
            if len(self.stack) >= MAX_DEPTH:
                self.diagnostics.append(
                    Diagnostic(
                        "yaml.too-deep",
                        f"nesting deeper than {MAX_DEPTH} levels; the deeper part is ignored",
                        to_range(_span(event.start_mark, event.end_mark)),
                        fix="flatten the structure",
                    )
                )
                self.too_deep_at = 1
                return True
            is_map = cls is ev.MappingStartEvent
            self.stack.append(
                _Frame(
                    is_map=is_map,
                    container={} if is_map else [],
                    path=self._child_path(),
                    start=(event.start_mark.line, event.start_mark.column),
                    anchor=event.anchor,
                    flow=bool(event.flow_style),
                )
            )
        elif cls in _ENDS:
            self._close((event.end_mark.line, event.end_mark.column))
        elif cls is ev.AliasEvent:
            self._alias(event)
        elif cls is ev.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                self.diagnostics.append(
                    Diagnostic(
                        "yaml.multiple-documents",
                        "only the first YAML document is read",
                        to_range(_span(event.start_mark, event.end_mark)),
                        Severity.WARNING,
                        fix="put each pipeline in its own file",
                    )
                )
                return False
        return True

    def _alias(self, event: Any) -> None:
        rng = _span(event.start_mark, event.end_mark)
        target = self.anchors.get(event.anchor)
        if target is None:
            self.diagnostics.append(
                Diagnostic(
                    "yaml.unknown-alias",
                    f"alias `*{event.anchor}` refers to no anchor defined before it",
                    to_range(rng),
                    fix=f"define `&{event.anchor}` before using `*{event.anchor}`",
                )
            )
            self._complete(None, rng, 1, None, self._child_path())
            return
        value, weight = target
        self.expanded += weight
        if self.expanded > MAX_ALIAS_EXPANSION:
            if not self.alias_limit_reported:
                self.alias_limit_reported = True
                self.diagnostics.append(
                    Diagnostic(
                        "yaml.alias-limit",
                        f"aliases expand to more than {MAX_ALIAS_EXPANSION} nodes; the rest are ignored",
                        to_range(rng),
                        fix="use fewer nested aliases",
                    )
                )
            value, weight = None, 1
        # Shared, not copied: the expansion budget bounds any later walk of the data.
        self._complete(value, rng, weight, None, self._child_path())

    def _close(self, end: tuple[int, int]) -> None:
        frame = self.stack[-1]
        if frame.is_map and frame.has_pending_key:  # `key:` cut short by an error: keep the key
            path = frame.path + (frame.pending_key,) if frame.path is not None else None
            self._complete(None, (*end, *end), 1, None, path)
        self.stack.pop()
        for merged in frame.merges:
            for source in merged if isinstance(merged, list) else [merged]:
                if isinstance(source, dict):
                    for key, value in source.items():
                        frame.container.setdefault(key, value)
        # A block collection ends with its last child; the end event sits on the next line.
        rng = (*frame.start, *(end if frame.flow or frame.last_end is None else frame.last_end))
        self._complete(frame.container, rng, frame.weight, frame.anchor, frame.path)

    def close_all(self, end: tuple[int, int]) -> None:
        while self.stack:
            self._close(end)


@dataclass(frozen=True)
class _YamlProblem:
    """A parse error: where to report it, what it says, and lines whose blanking may get past it."""

    range: Range
    message: str
    candidates: tuple[tuple[int, Range], ...]  # (line to blank, where to report if that helps)

    @property
    def line(self) -> int:
        return self.range.start.line


def _mark_range(mark: Any) -> Range:
    return Range.at(mark.line, mark.column, mark.line, mark.column + 1)


def _problem_of(exc: Exception, text: str) -> _YamlProblem:
    if isinstance(exc, MarkedYAMLError):
        problem = exc.problem_mark or exc.context_mark
        rng = _mark_range(problem) if problem is not None else Range()
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        # The context (where the bad construct began) is usually the line to drop: `conf` typed
        # without a colon is reported on the next line, an unclosed `{` or quote at the end.
        candidates: list[tuple[int, Range]] = []
        for mark in (exc.context_mark, exc.problem_mark):
            if mark is not None and all(line != mark.line for line, _ in candidates):
                candidates.append((mark.line, _mark_range(mark)))
        if exc.problem_mark is not None and exc.problem_mark.line > 0:
            previous = exc.problem_mark.line - 1
            line_text = text.split("\n", previous + 1)[previous] if previous < text.count("\n") + 1 else ""
            indent = len(line_text) - len(line_text.lstrip())
            candidates.append((previous, Range.at(previous, indent, previous, len(line_text.rstrip()))))
        return _YamlProblem(rng, message, tuple(candidates))
    if isinstance(exc, ReaderError):
        index = max(0, min(exc.position, len(text)))
        line = text.count("\n", 0, index)
        column = index - (text.rfind("\n", 0, index) + 1)
        rng = Range.at(line, column, line, column + 1)
        return _YamlProblem(rng, "control characters are not allowed in YAML", ((line, rng),))
    return _YamlProblem(Range(), f"unreadable YAML ({type(exc).__name__})", ())


def _blank_lines(text: str, lines: set[int]) -> str:
    parts = text.split("\n")
    for line in lines:
        if 0 <= line < len(parts):
            parts[line] = ""
    return "\n".join(parts)


def _build(text: str, use_c: bool) -> tuple[_TreeBuilder, Exception | None]:
    builder = _TreeBuilder()
    last = (0, 0)
    try:
        for event in _event_stream(text, use_c=use_c):
            if not builder.feed(event):
                break
    except (YAMLError, RecursionError, ValueError, TypeError, UnicodeError, OverflowError) as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            last = (mark.line, mark.column)
        builder.close_all(last)
        return builder, exc
    builder.close_all(last)
    return builder, None


_FLOW_TOKENS = re.compile(r"""[\[\]{}'"#\n]""")
_NODE_START_BEFORE = frozenset(":-?,[{\n")  # a flow collection or quoted scalar starts a node after these


def _starts_node(text: str, i: int) -> bool:
    j = i - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    return j < 0 or text[j] in _NODE_START_BEFORE


def _quoted_end(text: str, i: int) -> int:
    """Index just past the quoted scalar starting at `i` (the end of the text when unterminated)."""
    quote = text[i]
    j = i + 1
    while True:
        j = text.find(quote, j)
        if j < 0:
            return len(text)
        if quote == "'" and text.startswith("''", j):
            j += 2
        elif quote == '"' and _escaped(text, j):
            j += 1
        else:
            return j + 1


def _escaped(text: str, j: int) -> bool:
    backslashes = 0
    while j - 1 - backslashes >= 0 and text[j - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def bound_flow_nesting(text: str, limit: int = MAX_DEPTH) -> tuple[str, list[Diagnostic]]:
    """Blank every flow collection nested deeper than `limit` (replaced by `~`, lines kept) before
    libyaml sees it: its cost grows with the square of flow depth (minutes for 200 KB of `[`).

    One linear pass over the brackets, quotes and comments only; positions are unchanged.
    """
    if text.count("[") + text.count("{") <= limit:
        return text, []
    depth, cut_from, cuts = 0, -1, []
    i, n = 0, len(text)
    while True:
        match = _FLOW_TOKENS.search(text, i)
        if match is None:
            break
        i, ch = match.start(), match.group()
        if ch in "'\"":
            end = _quoted_end(text, i) if (depth or _starts_node(text, i)) else n
            i = end if end < n else i + 1  # an unterminated quote hides nothing
            continue
        if ch == "#":
            if i == 0 or text[i - 1] in " \t\n":
                newline = text.find("\n", i)
                i = n if newline < 0 else newline
                continue
        elif ch in "[{" and (depth or _starts_node(text, i)):
            depth += 1
            if depth == limit + 1:
                cut_from = i
        elif ch in "]}" and depth:
            depth -= 1
            if depth == limit:
                cuts.append((cut_from, i + 1))
        i += 1
    if depth > limit:  # never closed: the rest of the text is the deep part
        cuts.append((cut_from, n))
    if not cuts:
        return text, []
    parts, last, diagnostics = [], 0, []
    for start, end in cuts:
        line = text.count("\n", 0, start)
        column = start - (text.rfind("\n", 0, start) + 1)
        diagnostics.append(Diagnostic("yaml.too-deep", f"nesting deeper than {limit} levels; the deeper part is ignored",
                                      Range.at(line, column, line, column + 1), fix="flatten the structure"))
        deep = text[start:end]
        parts += [text[last:start], "~", re.sub(r"[^\n]", " ", deep[1:])]
        last = end
    parts.append(text[last:])
    return "".join(parts), diagnostics


def parse_yaml(text: str, *, max_chars: int = MAX_CHARS, use_c: bool = True) -> YamlTree:
    """Parse one YAML document tolerantly. Never raises; problems are diagnostics.

    `use_c=False` forces the pure-Python parser (the fallback where the C extension is missing).
    """
    line_count = text.count("\n") + 1
    if len(text) > max_chars:
        return YamlTree(
            None,
            {},
            {},
            (
                Diagnostic(
                    "yaml.too-large",
                    f"file has {len(text):,} characters; the limit is {max_chars:,}",
                    Range(),
                    fix="split the pipeline into smaller files",
                ),
            ),
            line_count,
        )
    diagnostics: list[Diagnostic] = []
    attempt_text = text
    if _CONTROL_CHARS.search(attempt_text):
        match = _CONTROL_CHARS.search(attempt_text)
        assert match is not None
        index = match.start()
        line = attempt_text.count("\n", 0, index)
        column = index - (attempt_text.rfind("\n", 0, index) + 1)
        diagnostics.append(
            Diagnostic(
                "yaml.syntax",
                "control characters are not allowed in YAML",
                Range.at(line, column, line, column + 1),
                fix="remove the control character",
            )
        )
        attempt_text = _CONTROL_CHARS.sub(" ", attempt_text)
    attempt_text, too_deep = bound_flow_nesting(attempt_text)
    diagnostics.extend(too_deep)
    builder, error = _build(attempt_text, use_c)
    parses = 1
    while error is not None:
        problem = _problem_of(error, attempt_text)
        report_at = problem.range
        recovered = None
        best_reach = problem.line
        # Blank one candidate line at a time; keep the one that gets the parser furthest
        # (to the end if possible), and report the problem on that line.
        for line, where in problem.candidates:
            if parses > MAX_REPARSES:
                break
            trial = _blank_lines(attempt_text, {line})
            if trial == attempt_text:
                continue
            parses += 1
            trial_builder, trial_error = _build(trial, use_c)
            reach = _problem_of(trial_error, trial).line if trial_error is not None else len(trial)
            if reach > best_reach:
                best_reach, recovered, report_at = reach, (trial, trial_builder, trial_error), where
                if trial_error is None:
                    break
        diagnostics.append(Diagnostic("yaml.syntax", problem.message, report_at, fix="fix the YAML syntax at this position"))
        if recovered is None:
            break
        attempt_text, builder, error = recovered
    diagnostics.extend(builder.diagnostics)
    return YamlTree(builder.root, builder.values, builder.keys, tuple(diagnostics), line_count)
