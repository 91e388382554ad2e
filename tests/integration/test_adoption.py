"""A foreign Channels project adopts the exporter by the README's quickstart, from the wheel.

The wheel is built from this checkout and installed in a throwaway venv with
the oldest versions it declares (and, separately, the newest), next to a
project made by ``django-admin startproject`` and ``startapp``, the Channels
tutorial's chat consumer, and the README's adoption snippets applied as they
are written. None of this repository's apps is on that venv's path. The
project is served by a real uvicorn and checked from outside.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from metrics import label_values

from ..servers import ROOT, LiveServer, answers, free_port, run_command, running, value

pytestmark = [pytest.mark.server, pytest.mark.timeout(600)]

# The oldest versions pyproject.toml declares; "newest" lets pip choose.
PROFILES = {
    "oldest": [
        "Django==5.2",
        "channels==4.1.0",
        "prometheus-client==0.21.0",
        "sortedcontainers==2.4.0",
    ],
    "newest": [],
}
SERVER_PACKAGES = ["uvicorn>=0.30", "websockets>=15"]
STATUS = "/socket-status/"
ORIGIN = "http://127.0.0.1"

CHAT_CONSUMER = '''
import json

from channels.generic.websocket import AsyncWebsocketConsumer


class ChatConsumer(AsyncWebsocketConsumer):
    """The Channels tutorial's chat consumer."""

    async def connect(self):
        self.room_group_name = "chat_" + self.scope["url_route"]["kwargs"]["room_name"]
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data):
        message = json.loads(text_data)["message"]
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", "message": message}
        )

    async def chat_message(self, event):
        await self.send(text_data=json.dumps({"message": event["message"]}))
'''

# A view of the project's own that uses the facade, as code holding a socket
# outside the routes would.
FACADE_VIEW = """
from django.http import JsonResponse

from metrics import SocketStatusService


def upstream(request):
    SocketStatusService.register_socket("upstream-1", "chat", user_id=7)
    return JsonResponse(SocketStatusService.get_socket_status())
"""


# Where the README's quickstart is; docs/adopting.md holds the same blocks.
QUICKSTART = "## Quickstart for a Channels project"


def adoption_snippets(
    path: Path = ROOT / "README.md", heading: str = QUICKSTART
) -> dict[str, tuple[str, str]]:
    """The adoption code blocks under a heading: file -> (how: "append" or "write", code)."""
    text = path.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    section = section.split("\n## ", 1)[0]
    snippets: dict[str, tuple[str, str]] = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL):
        first, _, code = block.partition("\n")
        found = re.fullmatch(r"# (\S+\.py)( \(append\))?", first)
        assert found, f"an adoption snippet must start with '# <file>': {first!r}"
        snippets[found[1]] = ("append" if found[2] else "write", code)
    return snippets


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run_command(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "-q", "-w", out, ROOT, cwd=ROOT)  # fmt: skip
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_metrics_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        ]
    top_level = {
        name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")
    }
    assert top_level == {"metrics"}
    assert "metrics/py.typed" in names
    assert sorted(re.split(r"[<>=!~ ]", r, maxsplit=1)[0].lower() for r in requires) == [
        "channels",
        "django",
        "prometheus-client",
        "sortedcontainers",
    ]


def test_building_from_the_checkout_leaves_nothing_in_it(tmp_path: Path) -> None:
    # As a user would build it: pip's isolated build, the backend fetched by pip.
    def untracked() -> str:
        return run_command("git", "status", "--porcelain", "--ignored").stdout

    before = untracked()
    run_command(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, ROOT, cwd=ROOT
    )
    assert [w.name.split("-")[0] for w in tmp_path.glob("*.whl")] == ["vidai_socket_status"]
    assert untracked() == before


def adopter_env() -> dict[str, str]:
    """This process's environment without what points at this repository (PYTHON*, DJANGO*)."""
    env = {key: val for key, val in os.environ.items() if not key.startswith(("PYTHON", "DJANGO"))}
    env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@pytest.fixture(scope="module", params=PROFILES)
def adopter(request: pytest.FixtureRequest, wheel: Path, tmp_path_factory) -> Iterator[Path]:
    """The foreign project's directory, its venv at ``.venv`` inside it."""
    home = tmp_path_factory.mktemp(f"adopter-{request.param}")
    python = home / ".venv" / "bin" / "python"
    env = adopter_env()
    run_command(sys.executable, "-m", "venv", home / ".venv", cwd=home, env=env)
    run_command(python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
        wheel, *PROFILES[request.param], *SERVER_PACKAGES, cwd=home, env=env)  # fmt: skip
    run_command(
        home / ".venv" / "bin" / "django-admin", "startproject", "mysite", ".", cwd=home, env=env
    )
    run_command(python, "manage.py", "startapp", "chat", cwd=home, env=env)
    (home / "chat" / "consumers.py").write_text(CHAT_CONSUMER)
    (home / "chat" / "views.py").write_text(FACADE_VIEW)
    for name, (how, code) in adoption_snippets().items():
        target = home / name
        if how == "append":
            target.write_text(target.read_text() + "\n" + code)
        else:
            target.write_text(code)
    with (home / "mysite" / "settings.py").open("a") as settings:
        # The tutorial's own steps: its app, and a channel layer for its groups.
        settings.write(
            '\nINSTALLED_APPS += ["chat"]\n'
            'CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}\n'
            # The test server's dedicated /metrics listener, on a port it picks.
            'VIDAI_METRICS["LISTEN"] = __import__("os").environ.get("ADOPTER_METRICS_LISTEN")\n'
        )
    with (home / "mysite" / "urls.py").open("a") as urls:
        urls.write(
            '\nfrom chat.views import upstream\n\nurlpatterns += [path("upstream/", upstream)]\n'
        )
    return home


def test_the_adopter_uses_the_installed_wheel_and_passes_its_checks(adopter: Path) -> None:
    python = adopter / ".venv" / "bin" / "python"
    where = run_command(python, "-c", "import metrics; print(metrics.__file__)", cwd=adopter,
                        env=adopter_env()).stdout  # fmt: skip
    assert "site-packages" in where
    assert str(ROOT) not in where
    checked = run_command(python, "manage.py", "check", cwd=adopter, env=adopter_env()).stdout
    assert "no issues" in checked


@pytest.fixture(scope="module")
def served(adopter: Path) -> Iterator[LiveServer]:
    python = adopter / ".venv" / "bin" / "python"
    env = adopter_env()
    run_command(python, "manage.py", "migrate", "-v", "0", cwd=adopter, env=env)
    env["ADOPTER_METRICS_LISTEN"] = f"127.0.0.1:{free_port()}"
    port = free_port()
    log_path = adopter / "uvicorn.log"
    probe = LiveServer("uvicorn", port, None, log_path, env)  # type: ignore[arg-type]
    command = [str(python), "-m", "uvicorn", "mysite.asgi:application",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with running(
        "the adopter's uvicorn",
        command,
        ready=lambda: answers(lambda: probe.get(STATUS)[0] == 200),
        log_path=log_path,
        cwd=adopter,
        env=env,
    ) as process:
        yield LiveServer("uvicorn", port, process, log_path, env)


def status(server: LiveServer) -> dict:
    code, body = server.get(STATUS)
    assert code == 200, body
    return json.loads(body)


def family_types(server: LiveServer, name: str) -> set[str]:
    return {dict(labels)["type"] for (sample, labels) in server.scrape() if sample == name}


async def test_the_adopter_sees_its_own_types_counted_exactly(served: LiveServer) -> None:
    server = served
    first = status(server)
    assert first["sockets_by_type"] == {"chat": 0}
    assert first["ws_endpoints"] == {"chat": "/ws/chat/<room_name>/"}
    assert first["active"] is True
    assert first["source"] == "process"
    assert family_types(server, "vidai_websocket_connections") == {"chat"}
    assert family_types(server, "vidai_websocket_connections_opened_total") == {"chat"}

    # A chat message round trip, counted once.
    async with connect(server.ws + "/ws/chat/lobby/", origin=ORIGIN) as ws:
        await ws.send(json.dumps({"message": "hello"}))
        assert json.loads(await ws.recv()) == {"message": "hello"}
        during = await asyncio.to_thread(server.scrape)
        assert value(during, "vidai_websocket_connections", type="chat") == 1
        assert status(server)["sockets_by_type"] == {"chat": 1}
    closed = await asyncio.to_thread(
        server.wait_for, lambda s: value(s, "vidai_websocket_connections", type="chat") == 0
    )
    assert value(closed, "vidai_websocket_connections_opened_total", type="chat") == 1
    assert value(closed, "vidai_websocket_messages_total", type="chat", direction="received") == 1

    # A refused Origin: 403, counted once as a rejection of the chat route.
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws + "/ws/chat/lobby/", origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    after = await asyncio.to_thread(server.scrape)
    rejections = {
        dict(labels)["reason"]: v
        for (name, labels), v in after.items()
        if name == "vidai_websocket_connections_rejected_total" and dict(labels)["type"] == "chat"
    }
    assert rejections == dict.fromkeys(label_values.ROUTE_REJECT_REASONS, 0) | {"denied": 1}
    assert value(after, "vidai_websocket_connections_opened_total", type="chat") == 1

    # The facade writes to the same registry the JSON and /metrics read.
    code, body = server.get("/upstream/")
    assert code == 200, body
    assert json.loads(body)["sockets_by_type"] == {"chat": 1}
    assert (
        value(await asyncio.to_thread(server.scrape), "vidai_websocket_connections", type="chat")
        == 1
    )
    assert status(server)["total_sockets"] == 1
    assert "Traceback" not in server.log()


def test_the_adopter_listener_serves_the_same_samples(served: LiveServer) -> None:
    listener = LiveServer("listener", int(served.env["ADOPTER_METRICS_LISTEN"].rsplit(":", 1)[1]),
                          served.process, served.log_path)  # fmt: skip
    assert family_types(listener, "vidai_websocket_connections") == {"chat"}

    def counts(samples):  # ages move between two scrapes; counts only move with sockets
        return {key: v for key, v in samples.items() if "age_seconds" not in key[0]}

    assert counts(listener.scrape()) == counts(served.scrape())
