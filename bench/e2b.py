"""e2b engine overhead (run by hand, not in the test suite).

A two-step pipeline (CSV -> CSV, the quickstart's orders) run with `osiris-run --engine local` and
`osiris-run --engine e2b` in the same run, both as fresh processes, the e2b engine through the real
SDK in debug mode against the fake envd (tests/fakes/envd.py) on loopback, whose commands run on
this machine. The e2b engine's overhead is its wall time minus the local engine's (medians of
interleaved runs); its parts come from status.json (`sandbox.timings_ms`): sandbox creation
(SDK import + create), version probe, uploads, the remote run, downloads. A template with Osiris
preinstalled is measured; the install path (no Osiris in the sandbox: wheel upload + venv
install) is measured once and reported apart. Goal: overhead under 1.5 s in total, not per step
(the original Osiris took about 0.8 s per step).

Not measured: the network to e2b's cloud and the real sandbox start (~150-300 ms), which this fake
cannot stand for.

    .venv/bin/python bench/e2b.py [--runs 5] [--install] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# This file is called e2b.py: its folder must not shadow the e2b SDK on sys.path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO / "tests" / "e2b"))

from e2b_helpers import EnvdServer  # noqa: E402  (loads tests/fakes/envd.py)

PIPELINE = """\
oml_version: "0.1.0"
name: bench-e2b-two-steps
steps:
  - id: read-orders
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config: {path: data/orders.csv}
  - id: write-copy
    component: filesystem.csv_writer
    mode: write
    needs: [read-orders]
    config: {path: out/orders_copy.csv}
"""
OSIRIS_RUN = Path(sys.executable).parent / "osiris-run"


def workspace(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "orders.csv").write_bytes((REPO / "examples" / "quickstart" / "data" / "orders.csv").read_bytes())
    (root / "pipeline.yaml").write_text(PIPELINE)
    return root / "pipeline.yaml"


def run_once(pipeline: Path, engine: str, env: dict[str, str], out: Path) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    proc = subprocess.run([str(OSIRIS_RUN), str(pipeline), "--engine", engine, "--json", "--out", str(out)],
                          cwd=pipeline.parent, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{engine} run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads((out / "status.json").read_text())


def bare_image(server: EnvdServer, scratch: Path) -> None:
    """No Osiris in the sandbox: Python and the dependencies only (pip offline), as the tests do."""
    deps = scratch / "image-site-packages"
    deps.mkdir()
    skip = ("osiris_runtime", "osiris_lsp", "osiris_oml", "__editable__", "pip", "setuptools", "wheel", "_distutils_hack")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(skip) and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    base_bin = Path(getattr(sys, "_base_executable", sys.executable)).parent
    (server.sandbox.home / ".bash_profile").write_text(f'export PATH="{base_bin}:$PATH"\n')
    server.sandbox.image_env.update({"PYTHONPATH": str(deps), "PIP_NO_INDEX": "1"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--install", action="store_true", help="also measure the install path once")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="osiris-bench-e2b-") as tmp:
        scratch = Path(tmp)
        server = EnvdServer(scratch / "sandbox-home")
        (server.sandbox.home / ".bash_profile").write_text(f'export PATH="{OSIRIS_RUN.parent}:$PATH"\n')
        env = {**os.environ, "E2B_DEBUG": "true", "E2B_SANDBOX_URL": server.url, "XDG_CACHE_HOME": str(scratch / "cache")}
        env.pop("E2B_API_KEY", None)
        pipeline = workspace(scratch / "ws")
        walls: dict[str, list[float]] = {"local": [], "e2b": []}
        parts: list[dict[str, Any]] = []
        run_once(pipeline, "local", env, scratch / "warm-local")  # warm the page cache for both
        run_once(pipeline, "e2b", env, scratch / "warm-e2b")
        for n in range(args.runs):
            for engine in ("local", "e2b"):
                wall, status = run_once(pipeline, engine, env, scratch / f"run-{engine}-{n}")
                walls[engine].append(wall)
                if engine == "e2b":
                    parts.append(status["sandbox"]["timings_ms"])
        local, remote = statistics.median(walls["local"]), statistics.median(walls["e2b"])
        result: dict[str, Any] = {
            "runs": args.runs,
            "local_wall_s": round(local, 3),
            "e2b_wall_s": round(remote, 3),
            "overhead_s": round(remote - local, 3),
            "ratio_e2b_over_local": round(remote / local, 2),
            "e2b_parts_ms_median": {k: round(statistics.median(p[k] for p in parts if p.get(k) is not None), 1)
                                    for k in ("create", "probe", "upload", "run", "download")
                                    if any(p.get(k) is not None for p in parts)},
            "goal_overhead_s": 1.5,
        }
        server.stop()
        if args.install:
            bare = EnvdServer(scratch / "bare-home")
            bare_image(bare, scratch)
            env_bare = {**env, "E2B_SANDBOX_URL": bare.url}
            wall, status = run_once(pipeline, "e2b", env_bare, scratch / "run-install")
            result["install_path"] = {"wall_s": round(wall, 3), "install_ms": status["sandbox"]["timings_ms"]["install"]}
            bare.stop()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"two-step pipeline, median of {args.runs} interleaved runs (fresh processes):")
    print(f"  local engine          {result['local_wall_s']:.3f} s")
    print(f"  e2b engine (fake)     {result['e2b_wall_s']:.3f} s   = {result['ratio_e2b_over_local']}x local")
    print(f"  overhead              {result['overhead_s']:.3f} s   (goal < {result['goal_overhead_s']} s in total)")
    print("  e2b parts (ms):       " + ", ".join(f"{k} {v}" for k, v in result["e2b_parts_ms_median"].items()))
    if "install_path" in result:
        ip = result["install_path"]
        print(f"  install path (once)   {ip['wall_s']:.3f} s wall, of which install {ip['install_ms']:.0f} ms")


if __name__ == "__main__":
    main()
