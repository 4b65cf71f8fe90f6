"""LSP benchmark: osiris-lsp against yaml-language-server (the baseline), same session, same run.

Replays one scripted editing session per server and file size (50 and 2,000 generated steps):
open, one-character edits -> diagnostics, then completion (component value, writer config key,
write_mode value) and hover (component), each warm and right after an edit; capability probes
(needs items, connection aliases) and a file with planted errors, some of which a JSON Schema
cannot see. p50/p95 in ms; the ratio column is baseline / osiris (above 1: osiris is faster).

    .venv/bin/python bench/lsp.py                 # both sizes, 40 reps (about 5 minutes)
    .venv/bin/python bench/lsp.py --reps 15 --sizes 50
    .venv/bin/python bench/lsp.py --first-diagnostics 10 --sizes 50   # open -> first diagnostics only, pull and push
osiris' modules are byte-compiled first, as installing the wheel does (`--from-source`: not).
Writes bench/results/lsp.json. yaml-language-server is installed on first use into
bench/lsp/node_modules (`npm ci`, pinned in bench/lsp/package-lock.json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH / "lsp"))

from lsp_client import LspClient, LspError  # noqa: E402
import oml_schema  # noqa: E402
import oml_workload  # noqa: E402

WARMUP = 3
YAMLLS = BENCH / "lsp" / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
START_GOAL_MS = 250        # initialize answered within this, from process start (issue 16)
YAMLLS_DEBOUNCE_MS = 200     # hard-coded validationDelayMs in yaml-language-server
GOALS = {   # ms, p95, per size (from the issue)
    50: {"completion": 8, "diagnostics": 60},
    2000: {"completion": 50, "diagnostics": 60},   # issue 16: edit->diagnostics p95 <= 60 ms at 2,000 steps
}
CLIENT_CAPABILITIES = {
    "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": False},
                  "workspaceFolders": True},
    "textDocument": {"synchronization": {"didSave": True},
                     "completion": {"completionItem": {"snippetSupport": True,
                                                       "documentationFormat": ["markdown", "plaintext"]}},
                     "hover": {"contentFormat": ["markdown", "plaintext"]},
                     "publishDiagnostics": {"relatedInformation": True, "versionSupport": True}},
}


# A VS Code-like client: it pulls diagnostics (textDocument/diagnostic) and takes none pushed.
PULL_CLIENT_CAPABILITIES = {**CLIENT_CAPABILITIES, "textDocument": {
    **CLIENT_CAPABILITIES["textDocument"], "diagnostic": {"dynamicRegistration": True, "relatedDocumentSupport": False}}}


@dataclass(frozen=True)
class ServerProfile:
    name: str
    command: list[str]
    configuration: Callable[[str | None], Any]    # answers workspace/configuration per section
    settings: dict[str, Any]                       # workspace/didChangeConfiguration payload
    initialization_options: dict[str, Any] | None = None
    wait_for_section: str | None = None            # yaml-ls pulls its settings before it works


def osiris_profile(workdir: Path, tree: Path | None = None) -> ServerProfile:
    """This checkout's server, or (tree) another checkout's, run by this interpreter."""
    settings = {"connectionsFile": str(workdir / "osiris_connections.yaml")}
    command = [sys.executable, "-m", "osiris_lsp"]
    return ServerProfile(
        name="osiris-lsp" if tree is None else "osiris-lsp@baseline",
        command=command if tree is None else ["env", f"PYTHONPATH={tree}", *command],
        configuration=lambda section: settings if section in ("osiris", None) else None,
        settings={"osiris": settings}, initialization_options=settings)


def yamlls_profile(workdir: Path) -> ServerProfile:
    yaml = {"schemas": {(workdir / "oml.schema.json").as_uri(): ["*.oml.yaml"]}, "validate": True,
            "completion": True, "hover": True, "schemaStore": {"enable": False}}   # no catalog download

    def configuration(section: str | None) -> Any:
        if section == "yaml":
            return yaml
        if section and section.startswith("yaml."):
            return yaml.get(section[5:])
        return {} if section == "http" else None

    return ServerProfile(name="yaml-language-server", command=["node", str(YAMLLS), "--stdio"],
                         configuration=configuration, settings={"yaml": yaml}, wait_for_section="yaml")


def byte_compile(tree: Path = REPO) -> None:
    """Compile osiris' modules to bytecode, as installing the wheel does (pip compiles at install).
    An editable install under PYTHONDONTWRITEBYTECODE (set in some environments, this one
    included) would otherwise compile every module from source at each start of the server and of
    its worker, which no installed server does."""
    import compileall

    for package in ("osiris_lsp", "osiris_runtime"):
        compileall.compile_dir(tree / package, quiet=1)


def ensure_yamlls() -> None:
    if not YAMLLS.exists():
        print("bench: installing yaml-language-server into bench/lsp/node_modules", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BENCH / "lsp", check=True)


# -- statistics ------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50": round(statistics.median(ms), 2), "p95": round(percentile(ms, 95), 2),
            "max": round(max(ms), 2)}


# -- memory ------------------------------------------------------------------------------------
def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def tree_memory_mb(pid: int) -> dict[str, float]:
    """Resident and peak-resident memory of a server and its helper processes, summed."""
    rss = hwm = 0
    count = 0
    for member in process_tree(pid):
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{member}/status").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        rss += int(fields.get("VmRSS", "0 kB").split()[0])
        hwm += int(fields.get("VmHWM", "0 kB").split()[0])
        count += 1
    return {"rss_mb": round(rss / 1024, 1), "peak_rss_mb": round(hwm / 1024, 1), "processes": count}


# -- one session -----------------------------------------------------------------------------
@dataclass
class Document:
    client: LspClient
    uri: str
    version: int = 1

    def change(self, changes: list[dict]) -> None:
        self.version += 1
        self.client.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                                                      "contentChanges": changes})

    def one_char_edit(self, pos: dict[str, int], k: int) -> None:
        """Insert `x` at pos on even k, delete it again on odd k (the text stays valid)."""
        start = {"line": pos["line"], "character": pos["character"]}
        end = {"line": pos["line"], "character": pos["character"] + (k % 2)}
        self.change([{"range": {"start": start, "end": end}, "text": "" if k % 2 else "x"}])

    def wait_diagnostics(self, timeout: float = 15) -> list[dict]:
        """The next publishDiagnostics for this document at (or after) its current version."""
        version = self.version
        note = self.client.wait_notification(
            "textDocument/publishDiagnostics",
            lambda p: p["uri"] == self.uri and (p.get("version") is None or p["version"] >= version), timeout)
        return note.params["diagnostics"]

    def settled_diagnostics(self, latest: list[dict] | None = None, quiet: float = 1.0) -> list[dict]:
        """The last diagnostics published before `quiet` seconds pass without another (a server
        may publish syntax problems first and the full validation later)."""
        if latest is None:
            latest = self.wait_diagnostics()
        while True:
            try:
                latest = self.wait_diagnostics(timeout=quiet)
            except LspError:
                return latest


def labels(result: Any) -> list[str] | None:
    if result is None:
        return None
    items = result["items"] if isinstance(result, dict) else result
    return [item["label"] for item in items]


def hover_text(result: Any) -> str | None:
    if not result:
        return None
    contents = result["contents"]
    if isinstance(contents, dict):
        return contents.get("value")
    if isinstance(contents, list):
        return "\n".join(c if isinstance(c, str) else c.get("value", "") for c in contents)
    return str(contents)


def start(profile: ServerProfile, workdir: Path, capabilities: dict = CLIENT_CAPABILITIES) -> tuple[LspClient, dict]:
    client = LspClient(profile.command, workdir, profile.configuration)
    params = {"processId": os.getpid(), "rootUri": workdir.as_uri(),
              "workspaceFolders": [{"uri": workdir.as_uri(), "name": "bench"}],
              "capabilities": capabilities}
    if profile.initialization_options is not None:
        params["initializationOptions"] = profile.initialization_options
    init, seconds = client.request("initialize", params, timeout=120)
    client.notify("initialized", {})
    client.notify("workspace/didChangeConfiguration", {"settings": profile.settings})
    if profile.wait_for_section:
        deadline = time.monotonic() + 15
        while profile.wait_for_section not in client.configuration_requests and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
    return client, {"server_info": (init or {}).get("serverInfo"), "initialize_ms": round(seconds * 1000, 1)}


def open_document(client: LspClient, workdir: Path, name: str, text: str) -> tuple[Document, float, list[dict]]:
    path = workdir / name
    path.write_text(text)
    client.drain()
    doc = Document(client, path.as_uri())
    started = time.perf_counter()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": doc.uri, "languageId": "yaml", "version": 1,
                                                            "text": text}})
    diagnostics = doc.wait_diagnostics(timeout=120)
    return doc, time.perf_counter() - started, diagnostics


def first_diagnostics(profile: ServerProfile, workdir: Path, steps: int, pull: bool) -> dict[str, Any]:
    """A fresh server: initialize, then open -> the first diagnostics, pushed or (pull: a VS
    Code-like client, which sends `textDocument/diagnostic` right after didOpen) pulled."""
    client, info = start(profile, workdir, PULL_CLIENT_CAPABILITIES if pull else CLIENT_CAPABILITIES)
    try:
        text = oml_workload.pipeline_text(steps)
        path = workdir / f"first{steps}.oml.yaml"
        path.write_text(text)
        client.drain()
        started = time.perf_counter()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": path.as_uri(), "languageId": "yaml", "version": 1,
                                                                "text": text}})
        if pull:
            client.request("textDocument/diagnostic", {"textDocument": {"uri": path.as_uri()}}, timeout=120)
        else:
            Document(client, path.as_uri()).wait_diagnostics(timeout=120)
        info["open_to_first_diagnostics_ms"] = round((time.perf_counter() - started) * 1000, 1)
    finally:
        client.close()
    return info


def first_diagnostics_report(profiles: list[ServerProfile], workdir: Path, steps: int, starts: int) -> dict[str, Any]:
    """osiris as a pull client and as a push client sees it, against yaml-language-server's push;
    the starts interleaved so that the machine's load falls on all three alike."""
    kinds = [(p, pull) for p in profiles for pull in ((True, False) if p.name.startswith("osiris-lsp") else (False,))]
    times: dict[str, list[float]] = {f"{p.name} {'pull' if pull else 'push'}": [] for p, pull in kinds}
    for _ in range(starts):
        for profile, pull in kinds:
            run = first_diagnostics(profile, workdir, steps, pull)
            times[f"{profile.name} {'pull' if pull else 'push'}"].append(run["open_to_first_diagnostics_ms"] / 1000)
    return {name: summary(values) for name, values in times.items()}


def session(profile: ServerProfile, workdir: Path, steps: int, reps: int, with_errors: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"server": profile.name, "steps": steps, "warm": {}, "after_edit": {}, "answers": {}}
    client, info = start(profile, workdir)
    out.update(info)
    try:
        clean = oml_workload.pipeline_text(steps)
        doc, open_s, diagnostics = open_document(client, workdir, f"bench{steps}.oml.yaml", clean)
        out["open_to_diagnostics_ms"] = round(open_s * 1000, 1)
        out["clean_file_diagnostics"] = [d["message"] for d in diagnostics][:10]

        # 1) one-character edit -> the diagnostics of that version
        pos = oml_workload.clean_edit_position(clean, steps)
        times = []
        for k in range(WARMUP + reps):
            client.drain()
            started = time.perf_counter()
            doc.one_char_edit(pos, k)
            doc.wait_diagnostics()
            if k >= WARMUP:
                times.append(time.perf_counter() - started)
        out["edit_to_diagnostics"] = summary(times)
        out["memory_after_edits"] = tree_memory_mb(client.proc.pid)

        # 2) the probe variant: completion and hover, warm and right after an edit
        probe = oml_workload.probe_file(steps)
        client.drain()
        doc.change([{"text": probe.text}])
        out["probe_file_diagnostics"] = len(doc.settled_diagnostics(quiet=0.5))
        operations = {
            "completion_component_value": ("textDocument/completion", "a_component"),
            "completion_writer_config_key": ("textDocument/completion", "b_config_key"),
            "completion_write_mode_value": ("textDocument/completion", "c_write_mode"),
            "hover_component": ("textDocument/hover", "hover_component"),
        }
        at = lambda name: {"textDocument": {"uri": doc.uri}, "position": probe.probes[name]}  # noqa: E731
        for key, (method, probe_name) in operations.items():
            times = []
            for k in range(WARMUP + reps):
                result, seconds = client.request(method, at(probe_name))
                if k >= WARMUP:
                    times.append(seconds)
            out["warm"][key] = summary(times)
            out["answers"][key] = hover_text(result) if method.endswith("hover") else labels(result)
            times = []
            for k in range(WARMUP + reps):
                client.drain()
                doc.one_char_edit(probe.probes["edit"], k)
                _, seconds = client.request(method, at(probe_name))
                doc.wait_diagnostics()          # let this edit's validation finish first
                if k >= WARMUP:
                    times.append(seconds)
            out["after_edit"][key] = summary(times)

        # 3) what each server can offer where JSON Schema has nothing to say
        out["capability"] = {}
        for name in ("b2_config_key", "b3_sparse_config_key", "b4_sparse_config_key", "needs_block", "needs_flow",
                     "connection"):
            result, seconds = client.request("textDocument/completion", at(name))
            out["capability"][name] = {"labels": labels(result), "ms": round(seconds * 1000, 2)}
        client.notify("textDocument/didClose", {"textDocument": {"uri": doc.uri}})

        if with_errors:
            out["errors_file"] = errors_found(client, workdir)
    except LspError as err:
        out["error"] = str(err)
    finally:
        out["stderr_tail"] = b"".join(client.stderr[-15:]).decode("utf-8", "replace")[-2000:]
        out["exit_code"] = client.close()
    return out


def errors_found(client: LspClient, workdir: Path) -> dict[str, Any]:
    """Which planted errors a server reports: any diagnostic inside the planted step counts."""
    planted = oml_workload.errors_file()
    doc, _, first = open_document(client, workdir, "errors50.oml.yaml", planted.text)
    diagnostics = doc.settled_diagnostics(first)
    found = {}
    for error in planted.planted:
        first, end = planted.step_spans[error.step_id]
        hits = [d for d in diagnostics if first <= d["range"]["start"]["line"] < end]
        found[error.key] = {"what": error.what, "schema_visible": error.schema_visible, "found": bool(hits),
                            "messages": [f"{d.get('code', '')}: {d['message']}" for d in hits][:3]}
    client.notify("textDocument/didClose", {"textDocument": {"uri": doc.uri}})
    return {"planted": found, "total_diagnostics": len(diagnostics)}


# -- report ----------------------------------------------------------------------------------
def kind_of(operation: str) -> str:
    return "completion" if operation.startswith("completion") else "hover" if operation.startswith("hover") else "diagnostics"


def rows(ours: dict, baseline: dict) -> list[dict[str, Any]]:
    steps = ours["steps"]
    table = [("edit_to_diagnostics", ours.get("edit_to_diagnostics"), baseline.get("edit_to_diagnostics"))]
    for phase in ("warm", "after_edit"):
        for op in ours.get(phase, {}):
            table.append((f"{op} ({phase})", ours[phase][op], baseline.get(phase, {}).get(op)))
    out = []
    for name, mine, theirs in table:
        if not mine or not mine.get("n"):
            continue
        row = {"operation": name, "osiris_p50": mine["p50"], "osiris_p95": mine["p95"]}
        if theirs and theirs.get("n"):
            row.update(baseline_p50=theirs["p50"], baseline_p95=theirs["p95"],
                       ratio_p50=round(theirs["p50"] / mine["p50"], 1), ratio_p95=round(theirs["p95"] / mine["p95"], 1),
                       faster=mine["p50"] < theirs["p50"] and mine["p95"] < theirs["p95"])
        goal = GOALS.get(steps, {}).get(kind_of(name))
        if goal is not None:
            row.update(goal_p95=goal, goal_met=mine["p95"] <= goal)
        out.append(row)
    return out


def print_report(results: dict[str, Any]) -> None:
    for size in results["sizes"]:
        ours, theirs = size.get("osiris-lsp", {}), size.get("yaml-language-server", {})
        print(f"\n== {size['steps']} steps ({size['lines']} lines); p50 / p95 ms; ratio = baseline / osiris")
        for side in (ours, theirs):
            if side:
                mem = side.get("memory_after_edits", {})
                print(f"   {side['server']}: start->initialize answered {side.get('initialize_ms')} ms, open->diagnostics "
                      f"{side.get('open_to_diagnostics_ms')} ms, memory {mem.get('rss_mb')} MB RSS (peak {mem.get('peak_rss_mb')} MB, "
                      f"{mem.get('processes')} processes){'  ERROR ' + side['error'] if 'error' in side else ''}")
        if ours and theirs and ours.get("initialize_ms") and theirs.get("initialize_ms"):
            ours_mem, theirs_mem = ours.get("memory_after_edits", {}), theirs.get("memory_after_edits", {})
            print(f"   start-up ratio (yaml-ls / osiris): initialize {theirs['initialize_ms'] / ours['initialize_ms']:.2f}x "
                  f"(goal: osiris <= {START_GOAL_MS} ms), open->diagnostics "
                  f"{theirs['open_to_diagnostics_ms'] / ours['open_to_diagnostics_ms']:.2f}x (goal >= 1), memory "
                  f"{theirs_mem.get('rss_mb', 0) / max(ours_mem.get('rss_mb', 1), 1):.2f}x (goal >= 1)")
            to_first = {side["server"]: side["initialize_ms"] + side["open_to_diagnostics_ms"] for side in (ours, theirs)}
            print(f"   initialize + open->diagnostics (what a user waits for): osiris {to_first['osiris-lsp']:.0f} ms, "
                  f"yaml-ls {to_first['yaml-language-server']:.0f} ms, "
                  f"{to_first['yaml-language-server'] / to_first['osiris-lsp']:.2f}x")
        print(f"   {'operation':48} {'osiris':>16} {'yaml-ls':>16} {'ratio p50/p95':>14}  goal")
        for row in rows(ours, theirs) if ours else []:
            base = f"{row.get('baseline_p50', '-')} / {row.get('baseline_p95', '-')}"
            ratio = f"{row.get('ratio_p50', '-')} / {row.get('ratio_p95', '-')}"
            goal = "" if "goal_p95" not in row else f"p95<={row['goal_p95']} {'met' if row['goal_met'] else 'MISSED'}"
            faster = "" if "faster" not in row else ("" if row["faster"] else "  NOT FASTER")
            print(f"   {row['operation']:48} {row['osiris_p50']:>7} / {row['osiris_p95']:<6} {base:>16} {ratio:>14}  {goal}{faster}")
        if theirs.get("edit_to_diagnostics", {}).get("n"):
            d = theirs["edit_to_diagnostics"]
            print(f"   (yaml-ls edit->diagnostics without its fixed {YAMLLS_DEBOUNCE_MS} ms debounce: "
                  f"{round(d['p50'] - YAMLLS_DEBOUNCE_MS, 1)} / {round(d['p95'] - YAMLLS_DEBOUNCE_MS, 1)})")
        for side in (ours, theirs):
            if side.get("capability"):
                caps = {k: (v["labels"] or [])[:6] for k, v in side["capability"].items()}
                print(f"   {side['server']} completion probes: {json.dumps(caps)}")
    errors = results.get("errors")
    if errors:
        print("\n== planted errors (errors50.oml.yaml): found by osiris-lsp / yaml-language-server")
        ours = errors.get("osiris-lsp", {}).get("planted", {})
        theirs = errors.get("yaml-language-server", {}).get("planted", {})
        for key in ours or theirs:
            e = (ours or theirs)[key]
            mark = lambda side: ("yes" if side.get(key, {}).get("found") else "no") if side else "-"  # noqa: E731
            print(f"   {key:4} {e['what']:48} schema-visible={str(e['schema_visible']):5} {mark(ours):>4} / {mark(theirs)}")


def save(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 2000])
    parser.add_argument("--servers", nargs="+", default=["osiris", "yamlls"], choices=["osiris", "yamlls"])
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "lsp.json")
    parser.add_argument("--from-source", action="store_true",
                        help="do not byte-compile osiris first (each start compiles what has no fresh .pyc)")
    parser.add_argument("--first-diagnostics", type=int, metavar="STARTS", default=0,
                        help="only measure open -> first diagnostics over STARTS fresh starts of each server "
                             "(osiris pulled and pushed, yaml-language-server pushed), at the first of --sizes")
    parser.add_argument("--baseline-tree", type=Path, metavar="DIR",
                        help="with --first-diagnostics: also the osiris-lsp of another source tree (e.g. "
                             "`git archive main` unpacked), byte-compiled, as osiris-lsp@baseline")
    args = parser.parse_args()
    if not args.from_source:
        byte_compile()

    workdir = Path(tempfile.mkdtemp(prefix="osiris-bench-lsp-"))
    (workdir / "osiris_connections.yaml").write_text(oml_workload.CONNECTIONS_YAML)
    profiles = []
    if "osiris" in args.servers:
        profiles.append(osiris_profile(workdir))
        if args.baseline_tree and args.first_diagnostics:
            byte_compile(args.baseline_tree)
            profiles.append(osiris_profile(workdir, args.baseline_tree))
    if "yamlls" in args.servers:
        ensure_yamlls()
        schema, schema_source = oml_schema.project_schema(REPO, Path(sys.executable).with_name("osiris"))
        (workdir / "oml.schema.json").write_text(json.dumps(schema, indent=1))
        profiles.append(yamlls_profile(workdir))
    results: dict[str, Any] = {
        "env": {"python": platform.python_version(), "cores": os.cpu_count(), "reps": args.reps, "warmup": WARMUP,
                "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
                "yaml_language_server": json.loads((YAMLLS.parents[1] / "package.json").read_text())["version"]
                if YAMLLS.exists() else None,
                "schema": schema_source if "yamlls" in args.servers else None,
                "osiris_bytecode": "from source where no fresh .pyc" if args.from_source else "compiled first (as installed)"},
        "sizes": [], "errors": {},
    }
    if args.first_diagnostics:
        try:
            report = first_diagnostics_report(profiles, workdir, args.sizes[0], args.first_diagnostics)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        results["first_diagnostics"] = {"steps": args.sizes[0], "starts": args.first_diagnostics, **report}
        results["env"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        save(results, args.out)
        baseline = report.get("yaml-language-server push")
        print(f"open -> first diagnostics, {args.sizes[0]} steps, {args.first_diagnostics} fresh starts each (ms):")
        for name, stats in report.items():
            ratio = f"  yaml-ls push / this: {baseline['p50'] / stats['p50']:.2f}x (p50)" if baseline else ""
            print(f"  {name:28} p50 {stats['p50']:7.1f}  p95 {stats['p95']:7.1f}{ratio}")
        print(f"bench: load average {results['env']['load_average_at_start']} at start, "
              f"{results['env']['load_average_at_end']} at end")
        return
    try:
        for steps in args.sizes:
            size = {"steps": steps, "lines": oml_workload.pipeline_text(steps).count("\n")}
            results["sizes"].append(size)
            for profile in profiles:
                print(f"bench: {profile.name}, {steps} steps ...", flush=True)
                run = session(profile, workdir, steps, args.reps, with_errors=steps == min(args.sizes))
                if "errors_file" in run:
                    results["errors"][profile.name] = run.pop("errors_file")
                size[profile.name] = run
                save(results, args.out)      # a long run interrupted keeps what it measured
            size["table"] = rows(size["osiris-lsp"], size.get("yaml-language-server", {})) if "osiris-lsp" in size else []
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["env"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save(results, args.out)
    print_report(results)
    print(f"\nbench: load average {results['env']['load_average_at_start']} at start, "
          f"{results['env']['load_average_at_end']} at end (2 cores: above 2, other work skews both servers)")
    print(f"\nbench: full results in {args.out}")


if __name__ == "__main__":
    main()
