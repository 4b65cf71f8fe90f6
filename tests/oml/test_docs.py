"""Every diagnostic code the validator can emit is documented in docs/diagnostics.md."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((REPO / "osiris_runtime" / "oml").glob("*.py")), REPO / "osiris_runtime" / "cli" / "oml.py",
           REPO / "osiris_runtime" / "friendly.py", REPO / "osiris_runtime" / "params.py"]
CODE = re.compile(r"""["']((?:yaml|oml|config|connection|needs|secret|params)\.[a-z]+(?:-[a-z]+)*)["']""")


def test_every_emitted_code_is_documented():
    documented = (REPO / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    emitted = {code for path in SOURCES for code in CODE.findall(path.read_text(encoding="utf-8"))}
    emitted -= {"params.invalid-value", "params.unknown", "params.unknown-profile"}  # renamed by the validator / compile-time only
    missing = sorted(code for code in emitted if f"`{code}`" not in documented)
    assert not missing, f"add these codes to docs/diagnostics.md: {missing}"
