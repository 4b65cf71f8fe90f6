"""Golden files: each sample pipeline's manifest and cfgs, compared byte for byte.

Regenerate after an intended change with `OSIRIS_UPDATE_GOLDEN=1 pytest tests/compiler/test_golden.py`
and review the diff.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from osiris_runtime.compiler import write_compiled

from .conftest import SPECS, GoldenCase, compile_case, golden_cases

CASES = golden_cases()
UPDATE = os.environ.get("OSIRIS_UPDATE_GOLDEN") == "1"


def _expected_files(case: GoldenCase) -> dict[str, bytes]:
    return {str(p.relative_to(case.expected)): p.read_bytes() for p in sorted(case.expected.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_output_matches_byte_for_byte(case: GoldenCase, registry) -> None:
    result = compile_case(case, registry)
    assert result.pipeline is not None, [d.format() for d in result.diagnostics]
    if UPDATE:
        write_compiled(result.pipeline, case.expected)
    assert result.pipeline.files() == _expected_files(case)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_compiling_twice_gives_the_same_bytes(case: GoldenCase, registry) -> None:
    first = compile_case(case, registry).pipeline
    second = compile_case(case, registry).pipeline
    assert first is not None and second is not None
    assert first.files() == second.files()


_CHILD = """
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from conftest import compile_case, golden_cases
from osiris_runtime.registry import Registry
registry = Registry([Path(sys.argv[2])])
out = {}
for case in golden_cases():
    files = compile_case(case, registry).pipeline.files()
    out[case.name] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
print(json.dumps(out, sort_keys=True))
"""


def test_two_processes_with_different_hash_seeds_agree() -> None:
    def digest(seed: str) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _CHILD, str(Path(__file__).parent), str(SPECS)],
                              env=env, capture_output=True, text=True, check=True)
        return done.stdout

    first, second = digest("1"), digest("4242")
    assert first == second
    assert len(first) > 100


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_outputs_hold_no_absolute_paths_hosts_or_timestamps(case: GoldenCase, registry) -> None:
    import re
    import socket

    files = compile_case(case, registry).pipeline.files()
    blob = b"\n".join(files.values()).decode()
    assert str(Path.cwd()) not in blob and str(Path.home()) not in blob
    assert socket.gethostname() not in blob
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", blob)
    assert all(data.endswith(b"\n") and b"\r" not in data and b" \n" not in data for data in files.values())
