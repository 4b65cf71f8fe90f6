"""Headless Neovim against the OML server: the same path a Neovim user takes."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest


pytestmark = pytest.mark.editor


def drive_neovim(nvim: str, server_command, pipeline, tmp_path: Path) -> dict:
    out = tmp_path / "nvim-result.json"
    env = {
        **os.environ,
        # Keep Neovim's lsp.log, swap files and shada out of the home folder.
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"), "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "OSIRIS_NVIM_CMD": json.dumps(list(server_command)),
        "OSIRIS_NVIM_ROOT": str(pipeline.workspace),
        "OSIRIS_NVIM_FILE": str(pipeline.path),
        "OSIRIS_NVIM_COMPLETE_AT": "{}:{}".format(*pipeline.complete_at),
        "OSIRIS_NVIM_FIX": f"{pipeline.broken_line}:{pipeline.fixed_text}",
        "OSIRIS_NVIM_FIXED_CODE": "oml.unknown-component",
        "OSIRIS_NVIM_OUT": str(out),
    }
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", "NONE", "-n", "-c", f"luafile {Path(__file__).with_name('nvim_drive.lua')}"],
        env=env, cwd=pipeline.workspace, capture_output=True, text=True, timeout=120,
    )
    lsp_log = tmp_path / "xdg-cache" / "nvim" / "lsp.log"
    context = f"nvim rc={proc.returncode}\nstdout:{proc.stdout[-2000:]}\nstderr:{proc.stderr[-2000:]}\n" + (
        f"lsp.log:\n{lsp_log.read_text()[-4000:]}" if lsp_log.exists() else "no lsp.log")
    assert out.exists(), f"the Neovim driver wrote no result\n{context}"
    result = json.loads(out.read_text())
    assert "error" not in result, f"driver error: {result['error']}\n{context}"
    result["context"] = context
    return result


def test_neovim_shows_diagnostics_completes_and_revalidates(nvim, server_under_test, broken_pipeline, tmp_path):
    result = drive_neovim(nvim, server_under_test.command, broken_pipeline, tmp_path)
    context = result["context"]

    assert result["diagnostics_arrived"], f"no diagnostics within 30 s\n{context}"
    unknown = [d for d in result["diagnostics"] if d["code"] == "oml.unknown-component"]
    assert unknown, f"no oml.unknown-component among {result['diagnostics']}\n{context}"
    assert unknown[0]["line"] == broken_pipeline.broken_line
    assert unknown[0]["severity"] == 1           # vim.diagnostic.severity.ERROR

    assert "mysql.extractor" in result["completion"], f"completion gave {result['completion']}\n{context}"
    assert "supabase.writer" in result["completion"]

    assert result["fix_cleared"], f"fixing the component left {result['diagnostics_after_fix']}\n{context}"
    assert not [d for d in result["diagnostics_after_fix"] if d["code"] == "oml.unknown-component"]


def test_the_documented_neovim_setup_attaches_to_oml_files_only(nvim, server_under_test, broken_pipeline, tmp_path,
                                                                  editor_repo):
    """editors/neovim/osiris.lua as a user's init: OML files get the server, plain YAML does not."""
    plain = broken_pipeline.workspace / "plain.yaml"
    plain.write_text("key: value\n")
    seen = {}
    for name in (broken_pipeline.path.name, plain.name):
        out = tmp_path / f"{name}.json"
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_DATA_HOME": str(tmp_path / "data"),
               "XDG_STATE_HOME": str(tmp_path / "state"), "OSIRIS_NVIM_OUT": str(out),
               # a plain YAML file gets no server: no point waiting long for its diagnostics
               "OSIRIS_NVIM_WAIT_MS": "30000" if name.endswith(".oml.yaml") else "2000"}
        command = f"lua vim.g.osiris_lsp_cmd = vim.fn.json_decode([==[{json.dumps(list(server_under_test.command))}]==])"
        proc = subprocess.run(
            [nvim, "--headless", "-n", "--cmd", command, "-u", str(editor_repo / "editors" / "neovim" / "osiris.lua"),
             name, "-c", f"luafile {Path(__file__).with_name('nvim_user_check.lua')}"],
            env=env, cwd=broken_pipeline.workspace, capture_output=True, text=True, timeout=120)
        assert out.exists(), f"nvim rc={proc.returncode}: {proc.stderr[-2000:]}"
        seen[name] = json.loads(out.read_text())

    oml = seen[broken_pipeline.path.name]
    assert oml["clients"] == ["osiris"] and oml["omnifunc"] == "v:lua.vim.lsp.omnifunc", oml
    assert oml["arrived"] and "oml.unknown-component" in oml["codes"], oml
    assert seen[plain.name]["clients"] == [], seen[plain.name]


def test_neovim_in_a_terminal_shows_the_error_and_completes_as_a_person_sees_it(
        nvim, tmux, server_under_test, broken_pipeline, tmp_path, editor_repo):
    """Neovim in tmux with the documented setup: the error is on screen, <C-x><C-o> lists components."""
    init = tmp_path / "init.lua"
    init.write_text(f"vim.g.osiris_lsp_cmd = vim.fn.json_decode([==[{json.dumps(list(server_under_test.command))}]==])\n"
                    f"vim.cmd('luafile {editor_repo / 'editors' / 'neovim' / 'osiris.lua'}')\n")
    socket = f"osiris-editors-{os.getpid()}"       # a private tmux server, never the user's
    base = [tmux, "-L", socket]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "xterm-256color"}

    def screen() -> str:
        return subprocess.run([*base, "capture-pane", "-t", "nvim", "-p"], capture_output=True, text=True).stdout

    def wait_for(text: str, seconds: float = 30) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        pytest.fail(f"{text!r} never appeared on the screen:\n{screen()}")

    subprocess.run([*base, "new-session", "-d", "-s", "nvim", "-x", "120", "-y", "45", "-c", str(broken_pipeline.workspace),
                    f"{nvim} -n -u {init} {broken_pipeline.path.name}"], env=env, check=True)
    try:
        shown = wait_for("unknown component")
        error_line = next(line for line in shown.splitlines() if "unknown component" in line)
        assert "mysql.extractr" in error_line, shown          # virtual text beside the broken line
        line, _ = broken_pipeline.complete_at
        subprocess.run([*base, "send-keys", "-t", "nvim", f"{line + 1}G", "A", "C-x", "C-o"], check=True)
        shown = wait_for("supabase.writer")      # only the popup menu names the writers
        assert "mysql.writer" in shown, shown
        subprocess.run([*base, "send-keys", "-t", "nvim", "Escape", ":qa!", "Enter"], check=True)
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True)
