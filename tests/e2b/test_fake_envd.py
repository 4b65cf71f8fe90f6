"""The fake envd speaks the SDK's protocol: the unmodified SDK in debug mode works against it."""

from __future__ import annotations

import pytest
from e2b import CommandExitException, FileNotFoundException, Sandbox, TimeoutException


def test_the_real_sdk_runs_commands_streams_output_and_moves_files(envd):
    sbx = Sandbox.create()
    chunks: list[str] = []
    result = sbx.commands.run("echo one; echo two >&2; echo $GREETING",
                              envs={"GREETING": "hello"}, on_stdout=chunks.append)
    assert result.exit_code == 0
    assert chunks[:2] == ["one\n", "hello\n"]
    assert result.stderr == "two\n"
    sbx.files.write("/home/user/in/a.txt", "content")
    assert sbx.commands.run("cat /home/user/in/a.txt; ls $HOME/in").stdout == "contenta.txt\n"
    assert (envd.sandbox.home / "in" / "a.txt").read_text() == "content"
    assert sbx.commands.run("pwd").stdout == "/home/user\n"  # the home is mapped both ways
    sbx.commands.run("mkdir -p out && printf 'x,y\\n' > out/r.csv")
    assert bytes(sbx.files.read("/home/user/out/r.csv", format="bytes")) == b"x,y\n"
    assert envd.sandbox.uploads == {"/home/user/in/a.txt": b"content"}
    assert envd.sandbox.commands[0].envs == {"GREETING": "hello"}
    assert sbx.kill() is True


def test_errors_come_back_as_the_sdk_exceptions(envd):
    sbx = Sandbox.create()
    with pytest.raises(CommandExitException) as failed:
        sbx.commands.run("echo oops >&2; exit 3")
    assert failed.value.exit_code == 3 and failed.value.stderr == "oops\n"
    with pytest.raises(FileNotFoundException):
        sbx.files.read("/home/user/missing.txt")
    with pytest.raises(TimeoutException):
        sbx.commands.run("sleep 5", timeout=0.5)


def test_a_background_command_can_be_killed(envd):
    sbx = Sandbox.create()
    handle = sbx.commands.run("sleep 30", background=True)
    assert handle.kill() is True
    with pytest.raises(CommandExitException) as killed:
        handle.wait()
    assert killed.value.exit_code == 137
    assert not envd.sandbox.processes


def test_the_host_environment_does_not_leak_into_the_sandbox(envd, monkeypatch):
    monkeypatch.setenv("I12_HOST_ONLY", "host-value")
    out = Sandbox.create().commands.run("env").stdout
    assert "I12_HOST_ONLY" not in out and "E2B_SANDBOX_URL" not in out
