"""How Vidai's uvicorn runs: whom it believes about client addresses, how much it reads.

Every server the project starts uses these options: ``make run`` (the
Makefile's ``UVICORN_FLAGS``, tested equal), ``gunicorn.conf.py`` (through
``UvicornWorker`` below) and the test servers (``uvicorn_args``).

- Proxy headers: uvicorn rewrites the client address and scheme from
  ``X-Forwarded-For``/``X-Forwarded-Proto`` only when the peer is one of
  ``VIDAI_TRUSTED_PROXIES``, the list the app trusts too; with none set, it
  reads no proxy header at all (uvicorn's own default believes 127.0.0.1).
- Bounded requests: HTTP is parsed by h11, which refuses a request line and
  headers over ``MAX_REQUEST_HEAD_BYTES`` with 400, and so bounds the number
  of headers as well; httptools, uvicorn's default when installed, buffers
  headers without limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from uvicorn_worker import UvicornWorker as _UvicornWorker

# Request line plus headers (h11's own default, stated): a session and a CSRF
# cookie take well under 1 KiB.
MAX_REQUEST_HEAD_BYTES = 16 * 1024


def trusted_proxies(env: Mapping[str, str] = os.environ) -> str:
    """``VIDAI_TRUSTED_PROXIES`` as a comma-separated list without blanks ("" when unset)."""
    entries = (item.strip() for item in env.get("VIDAI_TRUSTED_PROXIES", "").split(","))
    return ",".join(entry for entry in entries if entry)


def uvicorn_config(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``."""
    proxies = trusted_proxies(env)
    config: dict[str, Any] = {
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
        "proxy_headers": bool(proxies),
    }
    if proxies:
        config["forwarded_allow_ips"] = proxies
    return config


def uvicorn_args(env: Mapping[str, str] = os.environ) -> list[str]:
    """The same options on uvicorn's command line."""
    proxies = trusted_proxies(env)
    args = ["--http", "h11", "--h11-max-incomplete-event-size", str(MAX_REQUEST_HEAD_BYTES)]
    if proxies:
        return [*args, "--proxy-headers", "--forwarded-allow-ips", proxies]
    return [*args, "--no-proxy-headers"]


class UvicornWorker(_UvicornWorker):  # type: ignore[misc]
    """uvicorn's gunicorn worker with Vidai's options (read when gunicorn loads it)."""

    CONFIG_KWARGS = {**_UvicornWorker.CONFIG_KWARGS, **uvicorn_config()}  # noqa: RUF012
