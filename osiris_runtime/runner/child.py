"""Running `osiris-run` as a child process, as the editor and the MCP server do (crash isolation)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def osiris_run_command() -> list[str]:
    """The `osiris-run` of this interpreter's environment (or the same entry point through `-c`)."""
    return _entry_point("osiris-run", "headless_run")


def osiris_command() -> list[str]:
    """The `osiris` CLI of this interpreter's environment (or the same entry point through `-c`)."""
    return _entry_point("osiris", "main")


def _entry_point(script_name: str, function: str) -> list[str]:
    script = Path(sys.executable).parent / script_name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", f"from osiris_runtime.cli.main import {function}; {function}()"]


def last_json_object(stdout: str) -> dict[str, Any]:
    """The `--json` summary in a child's stdout: the whole output, else its last line that is a JSON object."""
    for candidate in (stdout.strip(), *reversed(stdout.strip().splitlines())):
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return {}
