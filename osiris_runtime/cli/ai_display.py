"""How `osiris generate` and `osiris chat` show their work: streaming progress, attempts, problems.

Everything shown goes through the session's redactor (API key, secrets the model wrote).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from osiris_runtime.ai.loop import Attempt, Problem
    from osiris_runtime.secrets import Redactor


class AttemptProgress:
    """A live line while the answer streams in (terminals only), then one line per judged attempt."""

    def __init__(self, console: "Console", attempts: int, redactor: "Redactor") -> None:
        self.console = console
        self.attempts = attempts
        self.redactor = redactor
        self.number = 1
        self.received = 0
        self._status: Any = None

    def __enter__(self) -> "AttemptProgress":
        if self.console.is_terminal:
            self._status = self.console.status(self._label())
            self._status.__enter__()
        else:
            self.console.print(f"attempt 1/{self.attempts}: asking the model")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)
            self._status = None

    def _label(self) -> str:
        return f"attempt {self.number}/{self.attempts}: receiving the answer ({self.received:,} chars)"

    def on_delta(self, text: str) -> None:
        self.received += len(text)
        if self._status is not None:
            self._status.update(self._label())

    def on_attempt(self, attempt: "Attempt") -> None:
        timing = f"model {attempt.model_ms / 1000:.2f} s, validation {attempt.validation_ms:.0f} ms"
        if attempt.ok:
            verdict = "[green]valid[/]" + (f" with {len(attempt.warnings)} warning(s)" if attempt.warnings else "")
        elif attempt.oml is None:
            verdict = "[red]no OML in the answer[/]"
        else:
            verdict = f"[red]{len(attempt.problems)} problem(s)[/]"
        self.console.print(f"attempt {attempt.number}/{self.attempts}: {verdict} ({timing})")
        self.number = attempt.number + 1
        self.received = 0
        if not attempt.ok and attempt.number < self.attempts:
            self.console.print(f"attempt {self.number}/{self.attempts}: asking again with the problems")
            if self._status is not None:
                self._status.update(self._label())


def print_problems(console: "Console", problems: "tuple[Problem, ...]", redactor: "Redactor", title: str) -> None:
    """A Rich table of problems: where, code, message and fix."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_lines=False, expand=False)
    table.add_column("where", no_wrap=True)
    table.add_column("code", style="bold", no_wrap=True)
    table.add_column("problem")
    table.add_column("fix", style="dim")
    for p in problems:
        where = f"{p.line}:{p.column}" + (f" {p.path}" if p.path else "")
        # Text, not markup: a message may hold `[...]` (list values, YAML flow sequences)
        table.add_row(Text(where), Text(p.code), Text(redactor.redact(p.message)), Text(redactor.redact(p.fix or "")))
    console.print(table)


def print_pipeline(console: "Console", oml: str) -> None:
    if console.is_terminal:
        from rich.syntax import Syntax

        console.print(Syntax(oml, "yaml", theme="ansi_dark", background_color="default"))
    else:
        console.print(oml, end="", markup=False, highlight=False, soft_wrap=True)


def print_verdict(console: "Console", attempt: "Attempt", redactor: "Redactor") -> None:
    if attempt.ok:
        note = f" ({len(attempt.warnings)} warning(s))" if attempt.warnings else ""
        console.print(f"[green]valid[/]{note}: /save FILE to write it")
    else:
        print_problems(console, attempt.problems, redactor, "problems (not saved):")


def stderr_console() -> "Console":
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> "Console":
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)
