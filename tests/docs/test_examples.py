"""Every YAML and shell example in docs/ stays true.

- A YAML block that is a whole OML document (it has `oml_version:` or `steps:` at the top level)
  validates without errors against the built-in components and docs/examples/osiris_connections.yaml;
  in a section of the troubleshooting page it must instead produce that section's code, and
  elsewhere a `<!-- expect: code -->` line right above the block says which code it shows.
- Any other YAML block parses as YAML (except under a `yaml.*` section, which shows broken YAML).
- Every `osiris ...` / `osiris-run ...` line of a shell block names a command that exists, with
  options that command has.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from ruamel.yaml import YAML

from osiris_runtime.cli.app import cli
from osiris_runtime.oml.connections import load_connections, parse_connections, validate_connections
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import Registry

from .conftest import load_docsite

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
CONNECTIONS = DOCS / "examples" / "osiris_connections.yaml"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[a-z]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
EXPECT = re.compile(r"<!-- expect: (?P<code>[a-z0-9.-]+) -->\s*$")
SECTION = re.compile(r"^#{2,6} `(?P<code>(?:" + "|".join(load_docsite().FAMILIES) + r")\.[a-z0-9-]+)`", re.M)
SHELL = {"bash", "sh", "shell", "console"}


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    lang: str
    body: str
    expect: str | None  # the diagnostic code the text says this snippet produces
    section: str | None  # the code of the troubleshooting section it sits in

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def _examples() -> list[Example]:
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            before = text[:match.start()]
            sections = list(SECTION.finditer(before))
            headings = list(re.finditer(r"^#{1,6} ", before, re.M))
            section = sections[-1].group("code") if sections and headings[-1].start() == sections[-1].start() else None
            previous = before.rstrip("\n").rsplit("\n", 1)[-1]
            expect = m.group("code") if (m := EXPECT.search(previous)) else None
            body = "\n".join(line[len(match.group("indent")):] for line in match.group("body").splitlines())
            found.append(Example(path.relative_to(REPO).as_posix(), before.count("\n") + 1, match.group("lang"),
                                 body, expect, section))
    return found


EXAMPLES = _examples()
YAML_EXAMPLES = [e for e in EXAMPLES if e.lang in ("yaml", "yml")]
SHELL_EXAMPLES = [e for e in EXAMPLES if e.lang in SHELL]


def _is_oml(body: str) -> bool:
    """A whole pipeline (a manifest has `steps:` too, and `compiler:`)."""
    return bool(re.search(r"^(oml_version|steps):", body, re.M)) and not re.search(r"^compiler:", body, re.M)


def _is_connections_file(body: str) -> bool:
    return bool(re.search(r"^connections:", body, re.M))


@pytest.fixture(scope="module")
def registry():
    return Registry([REPO / "components"])


@pytest.fixture(scope="module")
def connections():
    return load_connections(CONNECTIONS)


def test_the_docs_have_examples_to_check():
    assert len([e for e in YAML_EXAMPLES if _is_oml(e.body)]) >= 40
    assert len(SHELL_EXAMPLES) >= 10


@pytest.mark.parametrize("example", YAML_EXAMPLES, ids=str)
def test_yaml_example(example, registry, connections):
    expected = example.expect or example.section
    if expected and expected.startswith("yaml.") and not _is_oml(example.body):
        return  # a fragment of broken YAML, shown on purpose
    if _is_connections_file(example.body):
        parsed = parse_connections(example.body)
        found = [*parsed.diagnostics, *validate_connections(parsed, registry)]
        _check(example, expected, found)
        return
    if not _is_oml(example.body):
        YAML(typ="safe").load(example.body)
        return
    doc = parse_oml(example.body, source=example.page)
    _check(example, expected, validate(doc, registry, connections=connections))


def _check(example: Example, expected: str | None, found: list) -> None:
    codes = sorted({d.code for d in found})
    if expected:
        assert expected in codes, (f"{example}: the text says this snippet produces `{expected}`, the validator "
                                   f"reports {codes or 'nothing'}")
    else:
        errors = [d.format() for d in found if d.is_error]
        assert not errors, f"{example}: this example should validate (or say `<!-- expect: code -->` above it):\n" + "\n".join(errors)


def _osiris_lines(body: str) -> list[str]:
    lines = []
    for raw in body.replace("\\\n", " ").splitlines():
        line = raw.strip()
        line = line[2:] if line.startswith("$ ") else line
        for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
            part = re.sub(r"^(\S+=\S*\s+)+", "", part)  # VAR=value osiris ...
            part = re.sub(r"^(\.venv/bin/|\S+/bin/)", "", part)
            if re.match(r"^osiris(-run)?(\s|$)", part):
                lines.append(part.split(" #", 1)[0])
    return lines


def _command_for(words: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """The Click command a command line reaches, the words naming it, and the rest."""
    command: click.Command = cli
    path = ["osiris"]
    rest = ["run", *words[1:]] if words[0] == "osiris-run" else words[1:]
    while isinstance(command, click.Group):
        names = [w for w in rest if not w.startswith("-")]  # global flags (--debug) may come first
        if not names or names[0] not in command.list_commands(click.Context(command)):
            break
        command = command.get_command(click.Context(command), names[0])
        path.append(names[0])
        rest = rest[rest.index(names[0]) + 1:]
    return command, path, rest


def _option_names(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


@pytest.mark.parametrize("example", SHELL_EXAMPLES, ids=str)
def test_shell_example(example):
    for line in _osiris_lines(example.body):
        words = shlex.split(line.replace("<", "").replace(">", ""))
        command, path, rest = _command_for(words)
        if isinstance(command, click.Group):
            subcommands = command.list_commands(click.Context(command))
            named = next((w for w in rest if not w.startswith("-")), None)
            assert named is None, f"{example}: `{line}`: `{' '.join(path)}` has no command `{named}` (it has {subcommands})"
            continue
        options = _option_names(command) | (_option_names(cli) if path == ["osiris"] else set())
        for word in rest:
            if word.startswith("--"):
                name = word.split("=", 1)[0]
                assert name in options, f"{example}: `{line}`: `{' '.join(path)}` has no option {name} (it has {sorted(options)})"
