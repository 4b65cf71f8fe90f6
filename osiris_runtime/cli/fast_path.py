"""`osiris oml validate`, `osiris compile` and `osiris --help` without importing click.

Importing click costs more than a 20-step validation (issue 16: the CLI's start is measured
against `python -c pass`). So the few command lines editors and CI run most are parsed here, by
the rules click applies to the same commands, and anything else, including every mistake, goes
to the click group (cli/app.py), which gives the usual messages: an unknown or repeated-looking
option, `--help` of a subcommand, a missing argument, a path click would refuse, `--` or `-`,
shell completion. A command line parsed here runs the very function its click command calls.

The shapes below are the click commands' parameters in the form `click_shape()` derives from
them; tests/cli/test_fast_path.py checks they are equal and that both ways give the same exit
code, stdout and stderr for a matrix of command lines.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Mapping

# A parameter: (name, kind, option strings, type, required, multiple, default, envvar, callback).
# kind: "argument" (nargs 1) | "arguments" (nargs -1) | "flag" | "option"; type: ("text",),
# ("choice", choices) or ("path", exists, file_okay, dir_okay, readable, writable, executable,
# resolve_path, allow_dash); callback: the name of the click callback whose pure part
# (`_CALLBACKS`) the fast path applies.
Param = tuple[str, str, tuple[str, ...], tuple[Any, ...], bool, bool, Any, "str | None", "str | None"]

_FILE = ("path", False, True, False, True, False, False, False, False)
_EXISTING_FILE = ("path", True, True, False, True, False, False, False, False)
_DIRECTORY = ("path", False, False, True, True, False, False, False, False)

# (words of the command line, "module:function" of the command's work, its parameters)
FAST_COMMANDS: tuple[tuple[tuple[str, ...], str, tuple[Param, ...]], ...] = (
    (("oml", "validate"), "osiris_runtime.cli.validate_files:validate_files", (
        ("files", "arguments", (), _FILE, True, False, None, None, None),
        ("as_json", "flag", ("--json",), ("bool",), False, False, False, None, None),
        ("strict", "flag", ("--strict",), ("bool",), False, False, False, None, None),
        ("connections_path", "option", ("--connections",), _FILE, False, False, None, None, None),
        ("with_discovery", "flag", ("--discovery",), ("bool",), False, False, False, None, None),
        ("secrets_file", "option", ("--secrets-file",), _EXISTING_FILE, False, False, None, None, None),
    )),
    (("compile",), "osiris_runtime.cli.compile_to_dir:compile_to_dir", (
        ("pipeline", "argument", (), _EXISTING_FILE, True, False, None, None, None),
        ("out_dir", "option", ("--out",), _DIRECTORY, True, False, None, None, None),
        ("mode", "option", ("--mode",), ("choice", ("warn", "strict", "off")), False, False, "warn", None, None),
        ("params", "option", ("--param",), ("text",), False, True, None, None, "parse_param_options"),
        ("profile", "option", ("--profile",), ("text",), False, False, None, "OSIRIS_PROFILE", None),
        ("connections_path", "option", ("--connections",), _FILE, False, False, None, None, None),
        ("as_json", "flag", ("--json",), ("bool",), False, False, False, None, None),
    )),
)
# Options of the `osiris` group itself that may come before the command.
GROUP_FLAGS = ("--debug",)


def _param_pairs(values: tuple[str, ...]) -> Any:
    from osiris_runtime.cli.compile_to_dir import param_pairs

    parsed = param_pairs(values)
    return None if isinstance(parsed, str) else parsed  # a mistake: click reports it


_CALLBACKS: dict[str, Callable[[tuple[str, ...]], Any]] = {"parse_param_options": _param_pairs}


def help_page(argv: list[str], environ: Mapping[str, str]) -> str | None:
    """The text `osiris --help` prints, when `argv` asks for just that and the shipped page is current."""
    if "click" in sys.modules or "_OSIRIS_COMPLETE" in environ:
        return None
    args = [arg for arg in argv if arg not in GROUP_FLAGS]
    if args not in (["--help"], ["-h"]):
        return None
    from osiris_runtime.cli.group_help import help_width, shipped_help

    return shipped_help(help_width())


def fast_command(argv: list[str], environ: Mapping[str, str]) -> Callable[[], int] | None:
    """The command `argv` asks for, ready to run, when it is one of FAST_COMMANDS as click would
    accept it; None for click to handle."""
    if "click" in sys.modules or "_OSIRIS_COMPLETE" in environ:  # click is there anyway / shell completion
        return None
    args = list(argv)
    while args and args[0] in GROUP_FLAGS:
        del args[0]
    for words, target, params in FAST_COMMANDS:
        if tuple(args[:len(words)]) == words:
            values = _parse(args[len(words):], params, environ)
            if values is None:
                return None
            module_name, function = target.split(":")

            def run() -> int:
                import importlib

                return getattr(importlib.import_module(module_name), function)(**values)

            return run
    return None


def _parse(args: list[str], params: tuple[Param, ...], environ: Mapping[str, str]) -> dict[str, Any] | None:
    by_option = {opt: param for param in params for opt in param[2]}
    given: dict[str, list[str]] = {}
    positional: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        name, eq, inline = arg.partition("=")
        param = by_option.get(name)
        if param is None:  # --help, --, -, an unknown or short option
            return None
        if param[1] == "flag":
            if eq:
                return None
            given.setdefault(param[0], []).append("")
            continue
        if eq:
            value = inline
        elif index < len(args):
            value = args[index]
            index += 1
        else:
            return None
        if not value or value.startswith("-"):
            return None
        given.setdefault(param[0], []).append(value)

    values: dict[str, Any] = {}
    for name, kind, _, kind_type, required, multiple, default, envvar, callback in params:
        if kind == "arguments":
            raw, positional = positional, []
            if required and not raw:
                return None
            converted = [_convert(item, kind_type) for item in raw]
            if any(item is None for item in converted):
                return None
            values[name] = tuple(converted)
            continue
        if kind == "argument":
            if not positional:
                if required:
                    return None
                values[name] = default
                continue
            value = _convert(positional.pop(0), kind_type)
            if value is None:
                return None
            values[name] = value
            continue
        if kind == "flag":
            values[name] = True if name in given else default
            continue
        raw_values = given.get(name)
        if raw_values is None and envvar and environ.get(envvar):
            raw_values = [environ[envvar]]
        if raw_values is None:
            if required:
                return None
            values[name] = () if multiple else default
        else:
            converted = [_convert(item, kind_type) for item in raw_values]
            if any(item is None for item in converted):
                return None
            values[name] = tuple(converted) if multiple else converted[-1]
        if callback is not None:
            values[name] = _CALLBACKS[callback](values[name])
            if values[name] is None:
                return None
    if positional:  # more arguments than the command takes
        return None
    return values


def _convert(value: str, kind_type: tuple[Any, ...]) -> Any:
    """`value` as click's type converts it, or None where click would refuse it (or we are unsure)."""
    if kind_type[0] == "text":
        return value
    if kind_type[0] == "choice":
        return value if value in kind_type[1] else None
    _, exists, file_okay, dir_okay, readable, writable, executable, resolve_path, allow_dash = kind_type
    if not value or resolve_path or (allow_dash and value == "-"):
        return None
    import stat
    from pathlib import Path

    try:
        st = os.stat(value)
    except OSError:
        return None if exists else Path(value)
    if (not file_okay and stat.S_ISREG(st.st_mode)) or (not dir_okay and stat.S_ISDIR(st.st_mode)):
        return None
    if (readable and not os.access(value, os.R_OK)) or (writable and not os.access(value, os.W_OK)) or (
            executable and not os.access(value, os.X_OK)):
        return None
    return Path(value)


def click_shape(command: Any) -> tuple[Param, ...]:
    """The parameters of a click command in FAST_COMMANDS' form (for the test that they agree);
    a parameter the fast path could not parse as click does raises ValueError."""
    import click

    shapes: list[Param] = []
    for param in command.params:
        info = param.to_info_dict()  # defaults as click resolves them (not its internal UNSET)
        kind_type: tuple[Any, ...]
        if isinstance(param.type, click.Path):
            t = param.type
            if t.type is not None and t.type.__name__ != "Path":
                raise ValueError(f"{param.name}: path_type {t.type!r}")
            kind_type = ("path", t.exists, t.file_okay, t.dir_okay, t.readable, t.writable, t.executable,
                         t.resolve_path, t.allow_dash)
        elif isinstance(param.type, click.Choice):
            if not param.type.case_sensitive:
                raise ValueError(f"{param.name}: case-insensitive choice")
            kind_type = ("choice", tuple(param.type.choices))
        elif isinstance(param.type, click.types.StringParamType):
            kind_type = ("text",)
        elif isinstance(param.type, click.types.BoolParamType):
            kind_type = ("bool",)
        else:
            raise ValueError(f"{param.name}: type {param.type!r}")
        if isinstance(param, click.Argument):
            if param.nargs not in (1, -1) or param.envvar or param.callback:
                raise ValueError(f"{param.name}: argument shape")
            kind = "arguments" if param.nargs == -1 else "argument"
            opts: tuple[str, ...] = ()
        else:
            assert isinstance(param, click.Option)
            if (param.nargs != 1 or param.secondary_opts or param.count or param.prompt or param.is_eager
                    or param.expose_value is False or any(not o.startswith("--") for o in param.opts)):
                raise ValueError(f"{param.name}: option shape")
            if param.is_flag:
                if info["flag_value"] is not True or info["default"] is not False or param.multiple or param.envvar:
                    raise ValueError(f"{param.name}: flag shape")
                kind = "flag"
            else:
                kind = "option"
            opts = tuple(param.opts)
        callback = param.callback.__name__ if param.callback is not None else None
        if callback is not None and callback not in _CALLBACKS:
            raise ValueError(f"{param.name}: callback {callback}")
        envvar = param.envvar
        if envvar is not None and not isinstance(envvar, str):
            raise ValueError(f"{param.name}: envvar {envvar!r}")
        default = info["default"]
        if callable(default):
            raise ValueError(f"{param.name}: default computed when parsed")
        shapes.append((param.name, kind, opts, kind_type, param.required, param.multiple, default, envvar, callback))
    return tuple(shapes)
