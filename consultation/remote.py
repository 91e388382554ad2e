"""Log in to (and out of) a running Vidai server over HTTP, as a browser does.

For clients that are not browsers: ``manage.py open_sockets`` and the tests.
The login form is Django's, so this is its CSRF dance: read the form for the
token and cookie, post them back, keep the session cookie from the answer.
"""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlencode, urlsplit

TIMEOUT = 30.0
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class LoginFailed(Exception):
    """The server did not log this user in."""


def login(base_url: str, username: str, password: str) -> str:
    """Log in at ``base_url`` (``http://host:port``); return the session key."""
    token, csrf = _form(base_url, "")
    status, headers = _post(
        base_url,
        "/accounts/login/",
        {"username": username, "password": password, "csrfmiddlewaretoken": token},
        f"csrftoken={csrf}",
    )
    session = _cookie(headers, "sessionid")
    if status != 302 or not session:
        raise LoginFailed(f"login as {username!r} failed (HTTP {status})")
    return session


def logout(base_url: str, session_key: str) -> None:
    """End a session through ``/accounts/logout/``."""
    token, csrf = _form(base_url, f"sessionid={session_key}")
    status, _ = _post(
        base_url,
        "/accounts/logout/",
        {"csrfmiddlewaretoken": token},
        f"csrftoken={csrf}; sessionid={session_key}",
    )
    if status != 302:
        raise LoginFailed(f"logout failed (HTTP {status})")


def _connection(base_url: str) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.netloc, timeout=TIMEOUT)
    return http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT)


def _form(base_url: str, cookie: str) -> tuple[str, str]:
    """The login form's CSRF token and cookie."""
    connection = _connection(base_url)
    try:
        connection.request("GET", "/accounts/login/", headers={"Cookie": cookie} if cookie else {})
        page = connection.getresponse()
        body = page.read().decode("utf-8", "replace")
        headers = page.getheaders()
    finally:
        connection.close()
    token, csrf = _TOKEN.search(body), _cookie(headers, "csrftoken")
    if page.status != 200 or token is None or csrf is None:
        raise LoginFailed(f"no login form at {base_url}/accounts/login/ (HTTP {page.status})")
    return token[1], csrf


def _post(
    base_url: str, path: str, form: dict[str, str], cookie: str
) -> tuple[int, list[tuple[str, str]]]:
    connection = _connection(base_url)
    try:
        connection.request(
            "POST",
            path,
            body=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie,
                # Django checks Referer on https posts; same-origin is what a browser sends.
                "Referer": base_url + "/accounts/login/",
            },
        )
        answer = connection.getresponse()
        answer.read()
        return answer.status, answer.getheaders()
    finally:
        connection.close()


def _cookie(headers: list[tuple[str, str]], name: str) -> str | None:
    for header, value in headers:
        if header.lower() == "set-cookie" and value.startswith(name + "="):
            return value.split(";", 1)[0].split("=", 1)[1] or None
    return None
