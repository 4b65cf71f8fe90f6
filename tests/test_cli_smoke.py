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


def test_help_summaries_are_the_commands_own_and_help_imports_no_subcommand():
    import click

    from osiris_runtime.cli.main import SUBCOMMANDS, cli

    ctx = click.Context(cli)
    for name, (_, summary) in SUBCOMMANDS.items():
        assert summary == cli.get_command(ctx, name).get_short_help_str(limit=1000), name
    subcommand_modules = sorted({target.split(":")[0] for target, _ in SUBCOMMANDS.values()})
    probe = ("import sys; from osiris_runtime.cli.main import main\n"
             "try: main(['--help'])\nexcept SystemExit: pass\n"
             f"print(sorted(m for m in sys.modules if m in {subcommand_modules!r}"
             " or m in ('jsonschema', 'ruamel.yaml', 'rich', 'osiris_runtime.registry')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip().splitlines()[-1] == "[]", loaded
