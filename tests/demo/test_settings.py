"""Vidai's settings from the environment: secure in production, each relaxation explicit."""

from __future__ import annotations

import asyncio
import runpy
import sys
from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import RedisError

from ..conftest import require_tool
from ..servers import ROOT, run_command
from ..workers import run_redis

SETTINGS = ROOT / "vidai" / "settings.py"
# A key check --deploy accepts: long, varied, not Django's insecure prefix.
PRODUCTION_KEY = "Qm8vX2pL7rT0wZ4nB6yH1cF9kD3sJ5gA-xE8uV2iO0pN7tR4mW6qY1zK3bG9hC5"
OPT_OUTS = ("VIDAI_SSL_REDIRECT", "VIDAI_SECURE_COOKIES", "VIDAI_HSTS_SECONDS")


def production_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    """vidai/settings.py's values with DEBUG off, a secret key and ``env``, nothing else."""
    for name in (
        *OPT_OUTS,
        "VIDAI_TRUSTED_PROXIES",
        "REDIS_URL",
        "REDIS_PASSWORD",
        "REDIS_CA_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_DEBUG", "0")
    monkeypatch.setenv("DJANGO_SECRET_KEY", PRODUCTION_KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_production_is_https_only_with_short_sessions(monkeypatch) -> None:
    values = production_settings(monkeypatch)
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31_536_000
    assert values["SESSION_COOKIE_AGE"] == 8 * 3600
    # No proxy to set X-Forwarded-Proto: a client's own header is never believed.
    assert "SECURE_PROXY_SSL_HEADER" not in values


def test_each_protection_is_relaxed_only_by_its_own_variable(monkeypatch) -> None:
    values = production_settings(
        monkeypatch,
        VIDAI_SSL_REDIRECT="0",
        VIDAI_SECURE_COOKIES="0",
        VIDAI_HSTS_SECONDS="0",
        VIDAI_SESSION_SECONDS="900",
    )
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_AGE"] == 900
    # Anything but "1" keeps a protection off only when it says "0"; unset keeps it on.
    assert production_settings(monkeypatch, VIDAI_SSL_REDIRECT="")["SECURE_SSL_REDIRECT"] is True


def test_django_never_reads_the_scheme_header_itself(monkeypatch) -> None:
    # uvicorn sets the scheme, from trusted proxies only (test_server_hardening).
    values = production_settings(monkeypatch, VIDAI_TRUSTED_PROXIES="10.0.0.0/8")
    assert "SECURE_PROXY_SSL_HEADER" not in values


@pytest.mark.parametrize("value", ["true", "yes", "on", "2"])
def test_a_flag_is_zero_or_one(monkeypatch, value) -> None:
    with pytest.raises(ImproperlyConfigured, match="VIDAI_SECURE_COOKIES must be 0 or 1"):
        production_settings(monkeypatch, VIDAI_SECURE_COOKIES=value)


def test_redis_takes_a_password_and_tls(monkeypatch) -> None:
    values = production_settings(
        monkeypatch,
        REDIS_URL="rediss://vidai-redis:6380/0",
        REDIS_PASSWORD="from-a-secret",
        REDIS_CA_FILE="/etc/vidai/redis-ca.pem",
    )
    (host,) = values["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"]  # type: ignore[index]
    assert host == {
        "address": "rediss://vidai-redis:6380/0",
        "socket_timeout": 10,
        "password": "from-a-secret",
        "ssl_ca_certs": "/etc/vidai/redis-ca.pem",
    }


def round_trip(config: dict) -> dict:
    async def send_and_receive() -> dict:
        layer = RedisChannelLayer(**config)
        try:
            channel = await layer.new_channel()
            await layer.send(channel, {"type": "probe"})
            return await asyncio.wait_for(layer.receive(channel), 10)
        finally:
            await layer.flush()
            await layer.close_pools()

    return asyncio.run(send_and_receive())


@pytest.mark.server
def test_the_channel_layer_authenticates_to_a_real_redis(monkeypatch) -> None:
    password = "from-a-secret-0123456789abcdef"
    with run_redis(require_tool("redis-server"), password=password) as redis:
        values = production_settings(monkeypatch, REDIS_URL=redis.url, REDIS_PASSWORD=password)
        config = values["CHANNEL_LAYERS"]["default"]["CONFIG"]  # type: ignore[index]
        assert round_trip(config) == {"type": "probe"}
        without = production_settings(monkeypatch, REDIS_URL=redis.url)
        with pytest.raises(RedisError, match=r"(?i)auth"):
            round_trip(without["CHANNEL_LAYERS"]["default"]["CONFIG"])  # type: ignore[index]


def certificate_authority(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1 it signed: (CA, cert, key)."""
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, request = directory / "server.pem", directory / "server.key", directory / "req.pem"
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl = require_tool("openssl")
    run_command(openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1",
                "-subj", "/CN=vidai test CA")  # fmt: skip
    run_command(openssl, "req", *ec, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1")
    run_command(openssl, "x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key,
                "-CAcreateserial", "-out", cert, "-days", "1",
                "-extfile", directory / "san.cnf")  # fmt: skip
    return ca, cert, key


@pytest.mark.server
def test_the_channel_layer_speaks_tls_verified_with_the_ca_file(monkeypatch, tmp_path) -> None:
    ca, cert, key = certificate_authority(tmp_path)
    password = "from-a-secret-0123456789abcdef"
    with run_redis(require_tool("redis-server"), password=password, tls=(cert, key)) as redis:
        assert redis.url.startswith("rediss://")
        env = {"REDIS_URL": redis.url, "REDIS_PASSWORD": password}
        values = production_settings(monkeypatch, **env, REDIS_CA_FILE=str(ca))
        assert round_trip(values["CHANNEL_LAYERS"]["default"]["CONFIG"]) == {"type": "probe"}  # type: ignore[index]
        # The server's certificate is checked: without its CA, no connection.
        unverified = production_settings(monkeypatch, **env)
        with pytest.raises(RedisError, match=r"(?i)certificate"):
            round_trip(unverified["CHANNEL_LAYERS"]["default"]["CONFIG"])  # type: ignore[index]


def test_check_deploy_is_clean_with_just_the_production_secrets(tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "vidai.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": PRODUCTION_KEY,
        "VIDAI_METRICS_TOKEN": "a-scrape-token",
        "VIDAI_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
    }
    done = run_command(
        sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
        env=env, ok=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    # The same run with the plain-http opt-outs is not clean: the check can fail.
    relaxed = {**env, **dict.fromkeys(OPT_OUTS, "0")}
    done = run_command(
        sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
        env=relaxed, ok=False,
    )  # fmt: skip
    assert done.returncode == 1
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr
