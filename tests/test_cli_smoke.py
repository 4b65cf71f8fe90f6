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

    from osiris_runtime.cli.app import cli
    from osiris_runtime.cli.main import SUBCOMMANDS

    ctx = click.Context(cli)
    for name, (_, summary) in SUBCOMMANDS.items():
        assert summary == cli.get_command(ctx, name).get_short_help_str(limit=1000), name
    subcommand_modules = sorted({target.split(":")[0] for target, _ in SUBCOMMANDS.values()})
    probe = ("import sys; from osiris_runtime.cli.main import main\n"
             "try: main(['--help'])\nexcept SystemExit: pass\n"
             f"print(sorted(m for m in sys.modules if m in {subcommand_modules!r}"
             " or m in ('jsonschema', 'ruamel.yaml', 'rich', 'osiris_runtime.registry', 'osiris_runtime.errors', 'click')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip().splitlines()[-1] == "[]", loaded


# What a 20-step validate or compile must never pay for at start-up (issue 16: the CLI's budget is a
# few times `python -c pass`): schema errors' explainer, terminal rendering, logging, the SQL parser,
# database clients, the runner, discovery, the AI loop, the language server, the other subcommands.
_NOT_NEEDED_BY_VALID_INPUT = (
    "jsonschema", "rich", "logging", "difflib", "sqlglot", "psycopg", "pymysql", "MySQLdb", "duckdb", "supabase",
    "httpx", "pandas", "openai", "mcp", "e2b", "dotenv", "yaml", "pygls", "lsprotocol", "osiris_lsp",
    "osiris_runtime.runner", "osiris_runtime.discovery", "osiris_runtime.ai", "osiris_runtime.preview",
    "osiris_runtime.secrets",  # sources, resolver and redactor of a run (validate without --secrets-file)
    "click", "hashlib",  # the fast path parses these command lines (cli/fast_path.py); SHA-256 is CPython's own
)
# Of the drivers package, the validator's SQL rules use these two pure modules only.
_DRIVER_MODULES_OF_THE_VALIDATOR = {"osiris_runtime.drivers", "osiris_runtime.drivers.query_params",
                                    "osiris_runtime.drivers.sql_identifiers"}
_PIPELINE = """\
oml_version: "0.1.0"
name: imports
params:
  since: {type: string, default: '2024-01-01'}
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {connection: "@mysql.shop", query: "SELECT * FROM orders WHERE d >= '${params.since}'"}
  - id: shape
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config: {query: "SELECT *, 1 AS n FROM extract"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [shape]
    config: {path: "out/${params.since}.csv"}
"""


def test_validate_and_compile_of_valid_input_import_only_what_they_use(tmp_path):
    import json
    import os

    from osiris_runtime.cli.main import SUBCOMMANDS

    (tmp_path / "pipeline.yaml").write_text(_PIPELINE)
    (tmp_path / "osiris_connections.yaml").write_text(
        'connections:\n  mysql:\n    shop: {host: localhost, database: shop, user: reader, password: "${SHOP_PASSWORD}"}\n')
    probe = ("import json, sys; from osiris_runtime.cli.main import main\n"
             "try: main(sys.argv[1:])\nexcept SystemExit as exc: code = exc.code\n"
             "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))")
    subcommands = {target.split(":")[0] for target, _ in SUBCOMMANDS.values()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_")}
    env["OSIRIS_CACHE_DIR"] = str(tmp_path / "cache")
    for cache in ("cold", "warm"):  # an empty spec cache (the shipped one only), then the one the first run filled
        for args, command_module in ((["oml", "validate", "pipeline.yaml"], "osiris_runtime.cli.oml"),
                                     (["compile", "pipeline.yaml", "--out", "build"], "osiris_runtime.cli.compile")):
            done = subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=60)
            report = json.loads(done.stdout.strip().splitlines()[-1])
            assert report["code"] == 0, done.stderr
            loaded = set(report["modules"])
            unneeded = sorted(m for m in loaded if m.split(".")[0] in _NOT_NEEDED_BY_VALID_INPUT
                              or any(m == n or m.startswith(n + ".") for n in _NOT_NEEDED_BY_VALID_INPUT))
            drivers = sorted(m for m in loaded if m.startswith("osiris_runtime.drivers") and m not in _DRIVER_MODULES_OF_THE_VALIDATOR)
            other_commands = sorted(loaded & subcommands - {command_module})
            assert (unneeded, drivers, other_commands) == ([], [], []), (args, cache)
