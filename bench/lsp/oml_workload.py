"""Generated OML files for the LSP benchmark: the same shapes as the yaml-language-server
baseline (alternating extractor -> writer pairs), written against the real component specs so
that a clean pipeline is clean for both servers.

pipeline<N>: valid, N steps. probe<N>: the same with cursor probes near the middle (empty values,
blank key lines, empty `needs` items). errors: 50 steps with planted errors, the first five the
schema can see, the rest only an OML-aware server can (connections, needs, secrets, constraints,
params).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONNECTIONS_YAML = """\
connections:
  mysql:
    shop:
      default: true
      host: 127.0.0.1
      database: shop
      user: reader
      password: ${MYSQL_SHOP_PASSWORD}
    warehouse:
      host: 127.0.0.1
      database: warehouse
      user: loader
      password: ${MYSQL_WAREHOUSE_PASSWORD}
  supabase:
    main:
      default: true
      url: https://main.supabase.example
      key: ${SUPABASE_MAIN_KEY}
    analytics:
      url: https://analytics.supabase.example
      key: ${SUPABASE_ANALYTICS_KEY}
      dsn: ${SUPABASE_ANALYTICS_DSN}
"""


def _pair(i: int, t: dict[str, Any]) -> list[str]:
    n = f"{i:04d}"
    ex, wr = f"extract-{n}", f"load-{n}"
    lines = [f"  - id: {ex}"]
    if i % 2 == 0:
        lines += [f"    component: {t.get('ex_component', 'mysql.extractor')}", "    mode: read"]
        lines += t.get("ex_needs", [])
        lines += ["    config:",
                  f"      connection: {t.get('ex_connection', chr(34) + '@mysql.shop' + chr(34))}",
                  f"      query: \"SELECT id, name, updated_at FROM table_{n}{t.get('ex_query_tail', '')}\"",
                  f"      batch_size: {t.get('ex_batch', '5000')}"]
        lines += t.get("ex_extra_keys", [])
        writer, writer_connection = "supabase.writer", '"@supabase.analytics"'
    else:
        lines += [f"    component: {t.get('ex_component', 'supabase.extractor')}", "    mode: read"]
        lines += t.get("ex_needs", [])
        lines += ["    config:",
                  f"      connection: {t.get('ex_connection', chr(34) + '@supabase.main' + chr(34))}",
                  f"      table: table_{n}",
                  "      columns: [id, name, updated_at]",
                  "      limit: 1000"]
        lines += t.get("ex_extra_keys", [])
        writer, writer_connection = "mysql.writer", '"@mysql.warehouse"'
    lines += [f"  - id: {wr}", f"    component: {writer}", "    mode: write"]
    lines += t.get("wr_needs", [f"    needs: [{ex}]"])
    if t.get("wr_sparse"):      # config with only `table` plus a blank key line
        return lines + ["    config:", f"      table: table_{n}", "      "]
    lines += ["    config:", f"      connection: {t.get('wr_connection', writer_connection)}"]
    if not t.get("wr_no_table"):
        lines += [f"      table: table_{n}"]
    lines += t.get("wr_extra_keys", [])
    lines += [f"      write_mode: {t.get('wr_write_mode', 'upsert')}"]
    if not t.get("wr_no_primary_key"):
        lines += ["      primary_key: [id]"]
    lines += ["      create_if_missing: true"]
    return lines + t.get("wr_tail", [])


def pipeline_text(steps: int, tweaks: dict[int, dict[str, Any]] | None = None) -> str:
    tweaks = tweaks or {}
    lines = ['oml_version: "0.1.0"', f"name: bench-{steps}-steps",
             'description: "Generated benchmark pipeline"',
             "params:", '  since: {type: string, default: "2024-01-01"}', "steps:"]
    for i in range(steps // 2):
        lines += _pair(i, tweaks.get(i, {}))
    return "\n".join(lines) + "\n"


def _find(lines: list[str], needle: str, start: int = 0) -> int:
    for k in range(start, len(lines)):
        if needle in lines[k]:
            return k
    raise KeyError(needle)


@dataclass(frozen=True)
class ProbeFile:
    text: str
    probes: dict[str, dict[str, int]]     # name -> LSP position


def probe_file(steps: int) -> ProbeFile:
    mid = (steps // 2) // 2        # the middle pair: 12 of 25, 500 of 1000
    tweaks = {
        mid: {"ex_component": ""},                                   # (a) component value
        mid + 1: {"wr_tail": ["      "]},                            # (b) new key in a writer config
        mid + 2: {"wr_write_mode": "", "wr_tail": ["      "]},       # (c) write_mode value, (b2)
        mid + 3: {"wr_needs": ["    needs:", "      - "]},           # needs item (block)
        mid + 4: {"ex_connection": "", "wr_needs": ["    needs: []"]},  # connection value, needs (flow)
        mid + 7: {"wr_sparse": True},
        mid + 8: {"wr_sparse": True},
    }
    text = pipeline_text(steps, tweaks)
    lines = text.split("\n")

    def step_line(step_id: str) -> int:
        return _find(lines, f"- id: {step_id}")

    def end_of(step_id: str, needle: str) -> dict[str, int]:
        line = _find(lines, needle, step_line(step_id))
        return {"line": line, "character": len(lines[line])}

    def blank_after(step_id: str) -> dict[str, int]:
        line = step_line(step_id) + 1
        while lines[line].strip():
            line += 1
        return {"line": line, "character": len(lines[line])}

    m = lambda k: f"{mid + k:04d}"  # noqa: E731
    hover_line = _find(lines, "component:", step_line(f"load-{m(5)}"))
    edit_line = _find(lines, "query:", step_line(f"extract-{m(6)}"))
    probes = {
        "a_component": end_of(f"extract-{m(0)}", "component:"),
        "b_config_key": blank_after(f"load-{m(1)}"),
        "b2_config_key": blank_after(f"load-{m(2)}"),
        "c_write_mode": end_of(f"load-{m(2)}", "write_mode:"),
        "needs_block": end_of(f"load-{m(3)}", "      - "),
        "needs_flow": {"line": _find(lines, "needs: []", step_line(f"load-{m(4)}")), "character": len("    needs: [")},
        "connection": end_of(f"extract-{m(4)}", "connection:"),
        "b3_sparse_config_key": blank_after(f"load-{m(7)}"),
        "b4_sparse_config_key": blank_after(f"load-{m(8)}"),
        "hover_component": {"line": hover_line, "character": lines[hover_line].index("component: ") + len("component: ") + 4},
        "edit": {"line": edit_line, "character": lines[edit_line].index("SELECT") + 1},
    }
    return ProbeFile(text, probes)


def clean_edit_position(text: str, steps: int) -> dict[str, int]:
    """Inside a `query` string near the middle: a one-character edit there keeps the file valid."""
    lines = text.split("\n")
    line = _find(lines, "query:", _find(lines, f"- id: extract-{(steps // 2) // 2 + 6:04d}"))
    return {"line": line, "character": lines[line].index("SELECT") + 1}


@dataclass(frozen=True)
class PlantedError:
    key: str
    what: str
    schema_visible: bool     # can a JSON Schema (yaml-language-server) see it at all?
    step_id: str             # the step it sits in


PLANTED = (
    (2, {"ex_component": "postgres.extractor"}, PlantedError("E1", "unknown component", True, "extract-0002")),
    (5, {"wr_write_mode": "merge2"}, PlantedError("E2", "invalid write_mode enum", True, "load-0005")),
    (8, {"wr_extra_keys": ["      tabel: orders_typo"]}, PlantedError("E3", "unknown config key `tabel`", True, "load-0008")),
    (14, {"ex_batch": '"lots"'}, PlantedError("E4", "batch_size of the wrong type", True, "extract-0014")),
    (17, {"wr_no_table": True}, PlantedError("E5", "writer without required `table`", True, "load-0017")),
    (10, {"ex_connection": '"@mysql.nope"'}, PlantedError("E6", "unknown connection alias @mysql.nope", False, "extract-0010")),
    (11, {"wr_needs": ["    needs: [extract-9999]"]}, PlantedError("E7", "needs an unknown step id", False, "load-0011")),
    (20, {"ex_extra_keys": ['      password: "hunter2"']}, PlantedError("E8", "inline secret in config", False, "extract-0020")),
    (21, {"wr_no_primary_key": True}, PlantedError("E9", "upsert without primary_key (spec constraint)", False, "load-0021")),
    (22, {"ex_query_tail": " WHERE day > '${params.nope}'"}, PlantedError("E10", "undeclared param ${params.nope}", False, "extract-0022")),
    (23, {"ex_needs": ["    needs: [load-0023]"]}, PlantedError("E11", "needs cycle extract-0023 <-> load-0023", False, "extract-0023")),
)


@dataclass(frozen=True)
class ErrorsFile:
    text: str
    planted: tuple[PlantedError, ...]
    step_spans: dict[str, tuple[int, int]]     # step id -> [first line, next step's line)


def errors_file() -> ErrorsFile:
    tweaks: dict[int, dict[str, Any]] = {}
    for pair, tweak, _ in PLANTED:
        tweaks.setdefault(pair, {}).update(tweak)
    text = pipeline_text(50, tweaks)
    lines = text.split("\n")
    starts = [(k, line.split("- id:", 1)[1].strip()) for k, line in enumerate(lines) if line.startswith("  - id:")]
    spans = {sid: (k, starts[j + 1][0] if j + 1 < len(starts) else len(lines)) for j, (k, sid) in enumerate(starts)}
    return ErrorsFile(text, tuple(p for _, _, p in PLANTED), spans)
