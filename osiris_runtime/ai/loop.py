"""The validated generation loop: ask, extract the OML, validate it, feed the errors back, repeat.

The model is a plain function, `Generator(request, previous_attempt, feedback) -> answer text`, so
the loop knows nothing of HTTP and any client (the OpenAI SDK, a test script, an editor) can drive
it. Validation is the one validator the CLI and the language server use. An answer is accepted
only when it has no errors and no `secret.*` finding: a pipeline holding a secret is never
written, and its secret values are masked in everything the loop hands back (the answer, the
extracted OML, the feedback) with the one redactor.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from osiris_runtime.errors import Diagnostic, OsirisError, Range, Severity
from osiris_runtime.oml.document import OmlDocument, parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.secrets import Redactor

if TYPE_CHECKING:
    from osiris_runtime.oml.connections import ConnectionsFile
    from osiris_runtime.oml.rules_discovery import Catalogs
    from osiris_runtime.registry import Registry

DEFAULT_ATTEMPTS = 3
# With discovery caches, a table or column the database does not have is a mistake to send back.
INVENTED_NAME_CODES = frozenset({"discovery.unknown-table", "discovery.unknown-column"})
# Feedback lists this many problems at most: a model fixes the first ones best, and more only cost tokens.
MAX_FEEDBACK_PROBLEMS = 12

_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([A-Za-z0-9_.+-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_YAML_LANGS = {"", "yaml", "yml", "oml"}
_DOCUMENT_START = re.compile(r"^(oml_version|name|steps)\s*:", re.MULTILINE)


@dataclass(frozen=True)
class Problem:
    """One problem as the model is told it: where, what, how to fix; never a value from the pipeline."""

    code: str
    severity: str
    path: str
    line: int      # 1-based
    column: int    # 1-based
    message: str
    fix: str | None = None

    def line_text(self) -> str:
        where = f"line {self.line}, column {self.column}" + (f" ({self.path})" if self.path else "")
        text = f"- {where}: {self.code}: {self.message}"
        return text + (f" Fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class Attempt:
    """One answer of the model and what the validator said about it (secrets already masked)."""

    number: int
    answer: str
    oml: str | None
    diagnostics: tuple[Diagnostic, ...]
    problems: tuple[Problem, ...]
    model_ms: float
    validation_ms: float
    holds_secret: bool = False

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """Valid, secret-free and naming only real tables and columns (when the caches know them):
        the only kind of pipeline the loop lets anyone write."""
        return (self.oml is not None and not self.errors and not self.holds_secret
                and not any(d.code in INVENTED_NAME_CODES for d in self.diagnostics))


class GenerationCancelled(OsirisError):
    """Raised by a generator whose request was cancelled in flight: the loop stops there."""

    def __init__(self) -> None:
        super().__init__("the generation was cancelled", code="ai.cancelled")


@dataclass(frozen=True)
class GenerationResult:
    attempts: tuple[Attempt, ...]
    cancelled: bool = False  # stopped by the cancel flag: `attempts` are the ones finished before (maybe none)

    @property
    def best(self) -> Attempt:
        """The accepted attempt, else the one with the fewest problems (the later one on a tie)."""
        accepted = [a for a in self.attempts if a.ok]
        if accepted:
            return accepted[0]
        return min(reversed(self.attempts), key=lambda a: (a.oml is None, len(a.errors) + a.holds_secret, len(a.warnings)))

    @property
    def ok(self) -> bool:
        return self.best.ok

    @property
    def model_ms(self) -> float:
        return sum(a.model_ms for a in self.attempts)

    @property
    def validation_ms(self) -> float:
        return sum(a.validation_ms for a in self.attempts)


class Generator(Protocol):
    def __call__(self, request: str, previous: Attempt | None, feedback: str | None) -> str: ...


def extract_oml(answer: str) -> str | None:
    """The OML in a model's answer: the first YAML fenced block that looks like a pipeline, else bare YAML.

    A fenced block tagged yaml/yml/oml (or untagged) wins; without one, the answer from its first
    `oml_version:` / `name:` / `steps:` line on. None when nothing looks like a pipeline.
    """
    blocks = [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(answer)]
    for lang, body in blocks:
        if lang in _YAML_LANGS and _DOCUMENT_START.search(body):
            return body if body.endswith("\n") else body + "\n"
    if blocks:
        return None  # fenced, but no block is a pipeline: prose with code, not a bare document
    start = _DOCUMENT_START.search(answer)
    if start is None:
        return None
    text = answer[start.start():].strip("\n") + "\n"
    return text


def check_oml(text: str, registry: "Registry", connections: "ConnectionsFile | None" = None,
              source: str | None = None, discovery: "Catalogs | None" = None) -> tuple[OmlDocument, list[Diagnostic]]:
    """Parse and validate exactly as `osiris oml validate` and the language server do
    (with `discovery`, also table and column names against the discovery caches)."""
    doc = parse_oml(text, source=source)
    return doc, validate(doc, registry, connections=connections, discovery=discovery)


def inline_secret_values(doc: OmlDocument, diagnostics: Sequence[Diagnostic]) -> list[str]:
    """The values the validator flagged as secrets (`secret.*`), to be masked wherever the text goes."""
    values: list[str] = []
    for diag in diagnostics:
        if not diag.code.startswith("secret."):
            continue
        path, _ = doc.path_at(diag.range.start)
        value = doc.get(path)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            values.append(str(value))
        else:  # no value under the position: mask the text the diagnostic points at
            values.append(_text_in(doc.text, diag.range))
    return [v for v in values if v]


def _text_in(text: str, rng: Range) -> str:
    lines = text.splitlines()
    if rng.start.line != rng.end.line or rng.start.line >= len(lines):
        return ""
    return lines[rng.start.line][rng.start.column:rng.end.column].strip("'\" ")


def _path_text(path: tuple[object, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problems_of(doc: OmlDocument, diagnostics: Sequence[Diagnostic], redactor: Redactor) -> tuple[Problem, ...]:
    """The errors and secret findings, compact and redacted, in document order."""
    wanted = [d for d in diagnostics if d.is_error or d.code.startswith("secret.") or d.code in INVENTED_NAME_CODES]
    problems = []
    for diag in wanted:
        path, _ = doc.path_at(diag.range.start)
        problems.append(Problem(
            code=diag.code, severity=diag.severity.label, path=_path_text(path),
            line=diag.range.start.line + 1, column=diag.range.start.column + 1,
            message=redactor.redact(diag.message), fix=redactor.redact(diag.fix) if diag.fix else None,
        ))
    return tuple(problems)


def feedback_text(attempt: Attempt) -> str:
    """What the model is told after an invalid answer: the problems, then what to send back."""
    if attempt.oml is None:
        return ("Your answer did not contain an OML pipeline. Answer with the complete pipeline in one "
                "```yaml fenced block.")
    shown = attempt.problems[:MAX_FEEDBACK_PROBLEMS]
    lines = [f"The pipeline you wrote has {len(attempt.problems)} problem(s):", *(p.line_text() for p in shown)]
    if len(attempt.problems) > len(shown):
        lines.append(f"- ... and {len(attempt.problems) - len(shown)} more")
    lines.append("Answer with the whole corrected pipeline in one ```yaml fenced block.")
    return "\n".join(lines)


def _no_oml_diagnostic() -> Diagnostic:
    return Diagnostic("ai.no-oml", "the answer holds no OML pipeline", Range(),
                      fix="ask again, or describe the source, the target and what happens between them")


def judge_answer(number: int, answer: str, registry: "Registry", connections: "ConnectionsFile | None" = None,
                 *, model_ms: float = 0.0, clock: Callable[[], float] = time.perf_counter,
                 redactor: Redactor | None = None, discovery: "Catalogs | None" = None) -> Attempt:
    """Extract, validate and redact one answer: the per-attempt work the loop adds to the model's."""
    started = clock()
    redactor = redactor or Redactor()
    oml = extract_oml(answer)
    if oml is None:
        diagnostics: list[Diagnostic] = [_no_oml_diagnostic()]
        problems = (Problem("ai.no-oml", "error", "", 1, 1, "the answer holds no OML pipeline"),)
        holds_secret = False
    else:
        doc, diagnostics = check_oml(oml, registry, connections, discovery=discovery)
        secrets = inline_secret_values(doc, diagnostics)
        holds_secret = bool(secrets)
        redactor.add_values(secrets)
        problems = problems_of(doc, diagnostics, redactor)
        if holds_secret:
            oml = redactor.redact(oml)
    return Attempt(
        number=number, answer=redactor.redact(answer), oml=oml, diagnostics=tuple(diagnostics),
        problems=problems, model_ms=model_ms, validation_ms=(clock() - started) * 1000.0, holds_secret=holds_secret,
    )


@dataclass
class GenerationLoop:
    """Bounded retries of one request; `on_ask` hears of each attempt before the model is asked and
    `on_attempt` sees it judged (for progress displays). `cancel` stops the loop before the next
    attempt; a generator may also stop the attempt in flight by raising GenerationCancelled."""

    registry: "Registry"
    connections: "ConnectionsFile | None" = None
    attempts: int = DEFAULT_ATTEMPTS
    on_attempt: Callable[[Attempt], None] | None = None
    clock: Callable[[], float] = time.perf_counter
    redactor: Redactor = field(default_factory=Redactor)
    discovery: "Catalogs | None" = None  # discovery caches: invented table/column names are problems too
    cancel: threading.Event | None = None
    on_ask: Callable[[int], None] | None = None

    def run(self, request: str, generator: Generator) -> GenerationResult:
        done: list[Attempt] = []
        previous: Attempt | None = None
        feedback: str | None = None
        for number in range(1, max(1, self.attempts) + 1):
            if self.cancel is not None and self.cancel.is_set():
                return GenerationResult(tuple(done), cancelled=True)
            if self.on_ask is not None:
                self.on_ask(number)
            started = self.clock()
            try:
                answer = generator(request, previous, feedback)
            except GenerationCancelled:
                return GenerationResult(tuple(done), cancelled=True)
            model_ms = (self.clock() - started) * 1000.0
            attempt = judge_answer(number, answer, self.registry, self.connections, model_ms=model_ms,
                                   clock=self.clock, redactor=self.redactor, discovery=self.discovery)
            done.append(attempt)
            if self.on_attempt is not None:
                self.on_attempt(attempt)
            if attempt.ok:
                break
            previous, feedback = attempt, feedback_text(attempt)
        return GenerationResult(tuple(done))


def generate_pipeline(request: str, generator: Generator, registry: "Registry", *,
                      connections: "ConnectionsFile | None" = None, attempts: int = DEFAULT_ATTEMPTS,
                      on_attempt: Callable[[Attempt], None] | None = None) -> GenerationResult:
    """Run the loop once: at most `attempts` answers, stopping at the first valid, secret-free one."""
    return GenerationLoop(registry, connections, attempts, on_attempt).run(request, generator)
