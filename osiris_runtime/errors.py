"""Error and diagnostic types shared by every part of Osiris.

Problems are values: a `Diagnostic` knows where it is (a `Range`), what it is (a stable `code`),
what to say (`message`), what to do (`fix`) and the data a quick fix needs (`data`). Exceptions
that cross the CLI boundary are `OsirisError`s that carry the exit status they map to.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping


class ExitCode(enum.IntEnum):
    """Process exit statuses, the same for every command."""

    OK = 0
    VALIDATION = 2
    COMPILE = 3
    RUN = 4
    CONFIG = 5


class Severity(enum.IntEnum):
    """Ordered so that `max()` gives the worst; values match LSP DiagnosticSeverity inverted."""

    HINT = 1
    INFO = 2
    WARNING = 3
    ERROR = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, order=True)
class Position:
    """Zero-based line and column (UTF-16 agnostic: columns count code points)."""

    line: int = 0
    column: int = 0


@dataclass(frozen=True, order=True)
class Range:
    start: Position = Position()
    end: Position = Position()

    @classmethod
    def at(cls, line: int, column: int, end_line: int | None = None, end_column: int | None = None) -> "Range":
        return cls(
            Position(line, column),
            Position(line if end_line is None else end_line, column if end_column is None else end_column),
        )

    def contains(self, pos: Position) -> bool:
        return self.start <= pos <= self.end


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a document (OML file, connections file or spec).

    `code` is stable and documented (e.g. `oml.unknown-component`); `fix` is a one-line suggestion
    for a human; `data` carries what a quick fix needs (e.g. {"replacement": "table"}) and must be
    JSON-serialisable and secret-free.
    """

    code: str
    message: str
    range: Range = Range()
    severity: Severity = Severity.ERROR
    fix: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    doc_url: str | None = None
    source: str | None = None  # file path, for CLI printing; None inside the language server

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self, path: str | None = None) -> str:
        """`file:line:col: severity code: message` with 1-based line and column, as compilers print."""
        where = path or self.source or "<input>"
        line = f"{where}:{self.range.start.line + 1}:{self.range.start.column + 1}: {self.severity.label} {self.code}: {self.message}"
        if self.fix:
            line += f"\n    fix: {self.fix}"
        return line

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.label,
            "message": self.message,
            "range": {
                "start": {"line": self.range.start.line, "column": self.range.start.column},
                "end": {"line": self.range.end.line, "column": self.range.end.column},
            },
        }
        if self.fix:
            out["fix"] = self.fix
        if self.data:
            out["data"] = dict(self.data)
        if self.doc_url:
            out["doc_url"] = self.doc_url
        if self.source:
            out["file"] = self.source
        return out


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


class OsirisError(Exception):
    """An expected failure with a code and the exit status it maps to; the CLI prints it, never a traceback."""

    exit_code: ExitCode = ExitCode.RUN

    def __init__(
        self,
        message: str,
        *,
        code: str = "osiris.error",
        exit_code: ExitCode | None = None,
        diagnostics: Iterable[Diagnostic] = (),
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if exit_code is not None:
            self.exit_code = exit_code
        self.diagnostics = tuple(diagnostics)
        self.fix = fix


class ValidationFailed(OsirisError):
    exit_code = ExitCode.VALIDATION


class CompileFailed(OsirisError):
    exit_code = ExitCode.COMPILE


class RunFailed(OsirisError):
    exit_code = ExitCode.RUN


class ConfigError(OsirisError):
    """Connections, secrets, settings: what the user's environment must fix."""

    exit_code = ExitCode.CONFIG
