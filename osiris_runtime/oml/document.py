"""The OML document model: what a pipeline file says, and where it says it.

`parse_oml` never raises. `OmlDocument.data` holds plain Python data of whatever could be read,
`range_of` gives the range of any key or value by path (falling back to the nearest ancestor that
exists, so a diagnostic about a missing key lands on its parent), and `steps()` reads the steps
with the legacy v0.1.0 spellings (`type`/`uses` for `component`, `with` for `config`) mapped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

from osiris_runtime.errors import Diagnostic, Position, Range
from osiris_runtime.oml.yaml_tree import Path, YamlTree, parse_yaml, to_range

# Legacy spellings, in the order they are looked up after the current one.
COMPONENT_KEYS = ("component", "type", "uses")
CONFIG_KEYS = ("config", "with")
# OML step mode -> component mode in the spec.
MODE_TO_COMPONENT_MODE = {"read": "extract", "write": "write", "transform": "transform"}


@dataclass(frozen=True)
class StepView:
    """One step as written; fields are None when absent or of the wrong type."""

    index: int
    path: Path  # ("steps", index)
    id: str | None
    component: str | None
    component_key: str | None  # which spelling was used: "component", "type" or "uses"
    mode: str | None
    config: Mapping[str, Any] | None
    config_key: str | None  # "config" or "with"
    needs: tuple[str, ...] | None  # None when the step has no `needs` key
    depends_on: tuple[str, ...]  # `needs`, or the previous step's id when `needs` is absent
    raw: Mapping[str, Any]
    doc: "OmlDocument" = field(repr=False, compare=False)

    # Ranges are looked up on demand: most callers need one or two of them, for a few steps.
    @property
    def range(self) -> Range:
        return self.doc.range_of(self.path)

    @property
    def id_range(self) -> Range:
        return self.doc.range_of(self.path + ("id",))

    @property
    def component_range(self) -> Range:
        return self.doc.range_of(self.path + ((self.component_key or "component"),))

    @property
    def mode_range(self) -> Range:
        return self.doc.range_of(self.path + ("mode",))

    @property
    def config_range(self) -> Range:
        return self.doc.range_of(self.path + ((self.config_key or "config"),))

    @property
    def needs_range(self) -> Range:
        return self.doc.range_of(self.path + ("needs",))

    @property
    def component_mode(self) -> str | None:
        """The spec mode this step runs in (`read` -> `extract`)."""
        return MODE_TO_COMPONENT_MODE.get(self.mode) if isinstance(self.mode, str) else None

    @property
    def connection(self) -> Any:
        return self.config.get("connection") if self.config is not None else None


class OmlDocument:
    """A parsed OML file: text, data, ranges and the YAML-level problems found while reading it."""

    def __init__(self, text: str, source: str | None, tree: YamlTree) -> None:
        self.text = text
        self.source = source
        self.data: Any = tree.data
        self.syntax_diagnostics: tuple[Diagnostic, ...] = tuple(
            _with_source(d, source) for d in tree.diagnostics
        )
        self._values = tree.value_ranges
        self._keys = tree.key_ranges
        self._steps: list[StepView] | None = None
        self._lines: list[str] | None = None

    def with_data(self, data: Any) -> "OmlDocument":
        """The same document (text, ranges, source) holding other data at the same paths: the
        compiler's param-resolved document, validated with the document's own positions."""
        import copy

        resolved = copy.copy(self)
        resolved.data = data
        resolved.syntax_diagnostics = ()
        resolved._steps = None
        return resolved

    def has(self, path: Path) -> bool:
        return tuple(path) in self._values

    def get(self, path: Path, default: Any = None) -> Any:
        """The value at a path in `data`, or `default`."""
        return value_at(self.data, path, default)

    def range_of(self, path: Path, *, key: bool = False) -> Range:
        """Range of the value (or its key) at `path`; the nearest existing ancestor's when absent.

        For an absent path the ancestor's key is preferred (a missing field reported on
        `steps[0].config` underlines `config`, not the whole mapping below it).
        """
        path = tuple(path)
        exact = self._keys.get(path) if key else self._values.get(path)
        if exact is not None:
            return to_range(exact)
        if key and path in self._values:  # list items have no key: use the value
            return to_range(self._values[path])
        for end in range(len(path) - 1, -1, -1):
            ancestor = path[:end]
            found = self._keys.get(ancestor) or self._values.get(ancestor)
            if found is not None:
                return self._first_line(to_range(found))
        return Range()

    def _first_line(self, rng: Range) -> Range:
        """Clip a multi-line range to its first line: squiggles over a whole step help nobody."""
        if rng.end.line == rng.start.line:
            return rng
        line = self.line_text(rng.start.line)
        return Range(rng.start, Position(rng.start.line, max(rng.start.column, len(line.rstrip()))))

    @property
    def lines(self) -> list[str]:
        """The text's lines without their newlines, split once per document (do not modify)."""
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines

    def line_text(self, line: int) -> str:
        """One line of the text (zero-based), without its newline; "" past the end."""
        lines = self.lines
        return lines[line] if 0 <= line < len(lines) else ""

    def span_of(self, path: Path, *, key: bool = False) -> tuple[int, int, int, int] | None:
        """(line, column, end line, end column) of the value (or key) at `path` exactly, or None."""
        return (self._keys if key else self._values).get(tuple(path))

    def lines_of(self, path: Path) -> tuple[int, int] | None:
        """First and last line of the value at `path` (None when there is no value there)."""
        span = self._values.get(tuple(path))
        return (span[0], span[2]) if span is not None else None

    def key_range(self, path: Path) -> Range:
        return self.range_of(path, key=True)

    def paths(self) -> list[Path]:
        """Every addressable value path, in document order."""
        return list(self._values)

    def path_at(self, position: Position) -> tuple[Path, bool]:
        """The innermost path whose key or value contains `position`, and whether it's on the key."""
        best: Path = ()
        on_key = False
        for path, span in self._keys.items():
            if to_range(span).contains(position) and len(path) >= len(best):
                best, on_key = path, True
        for path, span in self._values.items():
            if to_range(span).contains(position) and len(path) > len(best):
                best, on_key = path, False
        return best, on_key

    def step(self, index: int) -> StepView | None:
        """The view of step item `index` (None unless it is a mapping), without reading the others."""
        steps = self.get(("steps",))
        if not isinstance(steps, list) or not 0 <= index < len(steps) or not isinstance(steps[index], dict):
            return None
        before = next((raw for raw in reversed(steps[:index]) if isinstance(raw, dict)), None)
        previous_id = before.get("id") if before is not None and isinstance(before.get("id"), str) else None
        return _view(self, index, steps[index], previous_id)

    def step_first_lines(self) -> list[int]:
        """The first line of each step item (-1 where there is none), in a quick pass."""
        steps = self.get(("steps",))
        if not isinstance(steps, list):
            return []
        get = self._values.get
        return [span[0] if span is not None else -1 for span in map(get, _step_paths(len(steps)))]

    def steps(self) -> list[StepView]:
        """The steps that are mappings, in order (cached: documents are immutable)."""
        if self._steps is None:
            self._steps = _read_steps(self)
        return list(self._steps)


@functools.lru_cache(maxsize=4)
def _step_paths(count: int) -> tuple[Path, ...]:
    return tuple(("steps", index) for index in range(count))


def value_at(data: Any, path: Path, default: Any = None) -> Any:
    """The value at a path (mapping keys and list indices) inside plain parsed data, or `default`."""
    node = data
    for part in path:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return default
    return node


def parse_oml(text: str, source: str | None = None) -> OmlDocument:
    """Parse OML text with positions; never raises (syntax problems are in `syntax_diagnostics`)."""
    if not isinstance(text, str):
        text = text.decode("utf-8", errors="replace") if isinstance(text, (bytes, bytearray)) else str(text)
    return OmlDocument(text, source, parse_yaml(text))


def _with_source(diag: Diagnostic, source: str | None) -> Diagnostic:
    if source is None or diag.source is not None:
        return diag
    from dataclasses import replace

    return replace(diag, source=source)


def first_present(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key in mapping:
            return key
    return None


def _read_steps(doc: OmlDocument) -> list[StepView]:
    steps = doc.get(("steps",))
    if not isinstance(steps, list):
        return []
    views: list[StepView] = []
    previous_id: str | None = None
    for index, raw in enumerate(steps):
        if isinstance(raw, dict):
            view = _view(doc, index, raw, previous_id)
            views.append(view)
            previous_id = view.id
    return views


def _view(doc: OmlDocument, index: int, raw: dict[Any, Any], previous_id: str | None) -> StepView:
    """The view of one mapping step item; `previous_id`: the id of the mapping item before it."""
    component_key = first_present(raw, COMPONENT_KEYS)
    config_key = first_present(raw, CONFIG_KEYS)
    step_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    component = raw.get(component_key) if component_key else None
    config = raw.get(config_key) if config_key else None
    mode = raw.get("mode")
    needs: tuple[str, ...] | None = None
    if "needs" in raw:
        value = raw["needs"]
        if value is None:
            needs = ()
        elif isinstance(value, str):
            needs = (value,)
        elif isinstance(value, list):
            needs = tuple(item for item in value if isinstance(item, str))
        else:
            needs = ()
    depends_on = needs if needs is not None else ((previous_id,) if previous_id else ())
    # The generated __init__ of a frozen dataclass sets each field through object.__setattr__:
    # for a 2,000-step document that was half the time of reading its steps. Same object.
    view = object.__new__(StepView)
    view.__dict__.update(
        index=index,
        path=("steps", index),
        id=step_id,
        component=component if isinstance(component, str) else None,
        component_key=component_key,
        mode=mode if isinstance(mode, str) else None,
        config=config if isinstance(config, dict) else None,
        config_key=config_key,
        needs=needs,
        depends_on=depends_on,
        raw=raw,
        doc=doc,
    )
    return view
