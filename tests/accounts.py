"""Test users, their consultations, and a logged-in user's handshake headers.

One set of accounts serves every test: ``create_accounts()`` writes it into
whatever database Django is using (pytest-django's, in process, where tests
put ``db_user(name)`` in a communicator's scope), and
``seed(sqlite_path)`` runs the same function in a subprocess against a real
server's SQLite file (``python -m tests.accounts PATH``). Real-server tests
then log in through ``/accounts/login/`` as a browser would, and open sockets
with ``Accounts.handshake(server, user)``: the session cookie and the
server's own ``Origin``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from consultation import remote

PASSWORD = "not-a-real-password-4-tests"
CONSULTATION_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
CONSULTATION_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")
# username: (is_staff, [(consultation, role, display name)])
USERS: dict[str, tuple[bool, list[tuple[uuid.UUID, str, str]]]] = {
    "doctor": (False, [(CONSULTATION_A, "doctor", "Dr Ada Byron")]),
    "patient": (False, [(CONSULTATION_A, "patient", "Pat Lee")]),
    "nurse-b": (False, [(CONSULTATION_B, "nurse", "Nurse Bo")]),
    "plain": (False, []),
    # Staff watch the feeds; this one also observes A (the status page's try-it panel).
    "staff": (True, [(CONSULTATION_A, "observer", "Sam Staff")]),
}


class Server(Protocol):
    port: int

    @property
    def http(self) -> str: ...


def create_accounts() -> None:
    """Create (or reset) the test users and consultations in Django's database."""
    from django.contrib.auth import get_user_model

    from consultation.models import Consultation, Participant

    user_model = get_user_model()
    for consultation in (CONSULTATION_A, CONSULTATION_B):
        Consultation.objects.update_or_create(
            id=consultation, defaults={"title": f"test {consultation.hex[-1]}"}
        )
    for username, (is_staff, seats) in USERS.items():
        user, _ = user_model.objects.update_or_create(
            username=username, defaults={"is_staff": is_staff, "is_active": True}
        )
        user.set_password(PASSWORD)
        user.save()
        for consultation, role, name in seats:
            Participant.objects.update_or_create(
                consultation_id=consultation,
                user=user,
                defaults={"role": role, "display_name": name},
            )


async def db_user(username: str) -> Any:
    """A test user from Django's database, as AuthMiddlewareStack puts it in a scope."""
    from django.contrib.auth import get_user_model

    return await get_user_model().objects.aget(username=username)


def seed(sqlite_path: str) -> None:
    """Create the accounts in a real server's database (a subprocess, its settings)."""
    from .servers import ROOT, server_env

    subprocess.run(
        [sys.executable, "-m", "tests.accounts"],
        cwd=ROOT, env=server_env(sqlite_path), check=True, timeout=120,
    )  # fmt: skip


def login(server: Server, username: str, password: str = PASSWORD) -> str:
    """Log in through ``/accounts/login/`` like a browser; return the session key."""
    return remote.login(server.http, username, password)


def logout(server: Server, session_key: str) -> None:
    """Log out through ``/accounts/logout/``."""
    remote.logout(server.http, session_key)


def user_id(sqlite_path: str, username: str) -> str:
    """A test user's primary key in a real server's database."""
    with contextlib.closing(sqlite3.connect(sqlite_path)) as db:
        (found,) = db.execute("SELECT id FROM auth_user WHERE username = ?", (username,)).fetchone()
    return str(found)


@dataclass
class Accounts:
    """Logged-in sessions, one per user, reused by every server on the same database."""

    sessions: dict[str, str] = field(default_factory=dict)

    def session(self, server: Server, username: str) -> str:
        if username not in self.sessions:
            self.sessions[username] = login(server, username)
        return self.sessions[username]

    def handshake(self, server: Server, username: str | None) -> dict[str, Any]:
        """``websockets.connect`` options: the server's Origin, and ``username``'s session."""
        options: dict[str, Any] = {"origin": server.http}
        if username is not None:
            cookie = f"sessionid={self.session(server, username)}"
            options["additional_headers"] = {"Cookie": cookie}
        return options


if __name__ == "__main__":
    import django

    django.setup()
    create_accounts()
