"""The CLI's shape: a help page, a version, clean failures."""

import subprocess
import sys


def run_osiris(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osiris_runtime.cli.main", *args], capture_output=True, text=True)


def test_help_lists_the_command_groups():
    result = run_osiris("--help")
    assert result.returncode == 0
    assert "Osiris" in result.stdout


def test_unknown_option_is_a_usage_error_with_exit_2_and_no_traceback():
    result = run_osiris("--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
