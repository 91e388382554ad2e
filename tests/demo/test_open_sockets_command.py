"""``manage.py open_sockets`` against a real uvicorn serving the Vidai app."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ..accounts import CONSULTATION_A, PASSWORD
from ..servers import ROOT, LiveServer, free_port, run_server, server_env
from .conftest import VIDAI_TYPES

TYPES = VIDAI_TYPES
ROOM = ["--consultation", str(CONSULTATION_A)]


def as_user(username: str) -> list[str]:
    return ["--user", username, "--password", PASSWORD]


def command_env(sqlite_path: Path) -> dict[str, str]:
    return server_env(str(sqlite_path), DJANGO_DEBUG="1")


def wait_for_counts(server: LiveServer, expected: dict[str, int], timeout: float = 10.0) -> None:
    """Poll the status JSON until it shows ``expected`` for every type (others 0)."""
    want = {socket_type: expected.get(socket_type, 0) for socket_type in TYPES}
    deadline = time.monotonic() + timeout
    while True:
        status, body = server.get("/consultation/socket-status/")
        assert status == 200, body
        seen = json.loads(body)["sockets_by_type"]
        if seen == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"status showed {seen}, not {want}, within {timeout}s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(sqlite_path: str) -> Iterator[LiveServer]:
    with run_server("uvicorn", sqlite_path, app="vidai.asgi:application") as running:
        yield running


@contextlib.contextmanager
def open_sockets(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[str]]:
    """Start the command; kill it if the test leaves early."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "open_sockets", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


@pytest.mark.server
def test_opens_holds_and_closes(server: LiveServer) -> None:
    with open_sockets(
        server.env, "--url", server.ws, *as_user("doctor"), *ROOM,
        "--type", "call=3", "--type", "stt=2", "--hold", "2",
    ) as command:  # fmt: skip
        wait_for_counts(server, {"call": 3, "stt": 2})
        stdout, stderr = command.communicate(timeout=30)
    assert command.returncode == 0, stderr
    lines = stdout.splitlines()
    # Three peers in one room: each offer reaches the two others.
    assert "call: 3 opened, 0 failed, 9 frames sent, 18 received" in lines
    # Every audio frame is acked.
    assert "stt: 2 opened, 0 failed, 6 frames sent, 6 received" in lines
    assert lines[-1] == "total: 5 opened, 0 failed, 15 frames sent"
    wait_for_counts(server, {})


@pytest.mark.server
def test_ctrl_c_closes_everything(server: LiveServer) -> None:
    # Staff read the feeds; this staff user also observes the consultation.
    args = ["--url", server.ws, *as_user("staff"), *ROOM, "--type", "stt_room=2",
            "--type", "stt_sales=1", "--hold", "0"]  # fmt: skip
    with open_sockets(server.env, *args, "--frames", "1") as command:
        wait_for_counts(server, {"stt_room": 2, "stt_sales": 1})
        command.send_signal(signal.SIGINT)
        stdout, stderr = command.communicate(timeout=30)
    assert command.returncode == 0, stderr
    assert "stt_room: 2 opened, 0 failed, 2 frames sent" in stdout
    assert "total: 3 opened, 0 failed, 3 frames sent" in stdout
    assert "closing 3 sockets" in stderr
    wait_for_counts(server, {})


def test_unreachable_server_reports_the_reason(tmp_path: Path) -> None:
    nobody = f"ws://127.0.0.1:{free_port()}"
    env = command_env(tmp_path / "unused.sqlite3")
    args = ["--url", nobody, "--session", "any", "--type", "stt=2", "--hold", "1"]
    with open_sockets(env, *args) as command:
        stdout, stderr = command.communicate(timeout=30)
    assert command.returncode == 1
    assert "stt: 0 opened, 2 failed (ConnectionRefusedError: 2)" in stdout
    assert "2 socket(s) failed to open" in stderr


def test_bad_argument_exits_non_zero(tmp_path: Path) -> None:
    env = command_env(tmp_path / "unused.sqlite3")
    with open_sockets(env, "--type", "bogus=1") as command:
        _, stderr = command.communicate(timeout=30)
    assert command.returncode != 0
    assert (
        "CommandError: unknown socket type 'bogus' in --type 'bogus=1'; "
        "types: call, stt, stt_room, stt_sales, stt_admin"
    ) in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "stt=1"], r"needs a logged-in user: give --user NAME --password"),
        (["--type", "stt=1", "--session", "k", "--user", "u"], r"--session or --user, not both"),
        (["--type", "stt_room=1"], r"call and stt_room need --consultation ID"),
        (["--type", "call=0"], r"'call=0': the count must be a whole number from 1 to 10000"),
        (["--type", "call=x"], r"'call=x': the count must be a whole number"),
        (["--type", "call"], r"'call': write NAME=COUNT, e\.g\. call=5"),
        (["--type", "call=1", "--type", "call=2"], r"--type call is given twice"),
        ([], r"give at least one --type NAME=COUNT"),
        (["--url", "http://127.0.0.1:8000", "--type", "call=1"], r"ws:// or wss:// URL"),
        (["--url", "ws://", "--type", "call=1"], r"ws:// or wss:// URL with a host"),
        (["--type", "call=1", "--hold", "-1"], r"--hold must be 0"),
        (["--type", "call=1", "--hold", "nan"], r"--hold must be 0"),
        (["--type", "call=1", "--frames", "-1"], r"--frames must be 0 or more"),
        (["--type", "call=1", "--concurrency", "0"], r"--concurrency must be 1 or more"),
        (["--type", "call=1", "--room", "a/b"], r"--consultation must be a consultation id"),
    ],
)
def test_bad_arguments_are_explained(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("open_sockets", *args)


@pytest.mark.server
def test_a_wrong_password_is_reported(server: LiveServer) -> None:
    args = ["--url", server.ws, "--user", "doctor", "--password", "wrong", "--type", "stt=1"]
    with open_sockets(server.env, *args) as command:
        _, stderr = command.communicate(timeout=30)
    assert command.returncode != 0
    assert "could not log in: login as 'doctor' failed (HTTP 200)" in stderr


@pytest.mark.server
def test_a_staff_session_opens_the_admin_feed(server: LiveServer) -> None:
    args = ["--url", server.ws, *as_user("staff"), "--type", "stt_admin=2", "--hold", "1"]
    with open_sockets(server.env, *args, "--frames", "1") as command:
        stdout, stderr = command.communicate(timeout=30)
    assert command.returncode == 0, stderr
    # The welcome and one pong each.
    assert "stt_admin: 2 opened, 0 failed, 2 frames sent, 4 received" in stdout
