"""The npm package as other apps get it: packed, installed from the tarball, built.

``npm pack`` in ``frontend/`` (its ``prepack`` builds the library), then the
three apps in ``tests/integration/npm_apps/`` are copied to a temporary folder, installed
at the versions their lockfile pins (one npm workspace, npm's cache shared
with the machine's) and the tarball installed into each, as a user would:

- Vite + React (JavaScript) builds, its own Vitest test renders the
  indicator, and plain Node imports the package;
- Vite + React + strict TypeScript passes ``tsc -b`` (including misuses that
  must stay errors) and a wrong prop type fails to compile;
- Next.js App Router prerenders a Server Component page that renders the
  indicator, with Turbopack and with webpack, and no ``transpilePackages``.

Needs Node.js 20.19+ and npm, and the registry (or npm's cache) for the apps'
dependencies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import pytest

from ..conftest import require_tool
from ..servers import ROOT, run_command

pytestmark = [pytest.mark.system_tool, pytest.mark.timeout(300)]

FRONTEND = ROOT / "frontend"
APPS = Path(__file__).parent / "npm_apps"
WORKSPACES = ("vite-js", "vite-ts", "next-app")
# Vite 7 and Next.js 16, the apps' versions, need this much.
NODE_MINIMUM = (20, 19)
# Modules whose hooks make them client modules for React Server Components.
CLIENT_MODULES = ("dist/useSocketStatus.js", "dist/SocketStatusIndicator.js")


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("VIDAI_REQUIRE_SYSTEM_TOOLS") == "1":
        pytest.fail(message + "; VIDAI_REQUIRE_SYSTEM_TOOLS=1 makes this an error")
    pytest.skip(message)


@pytest.fixture(scope="module")
def npm_env() -> Mapping[str, str]:
    """npm and Node.js, new enough; the environment the commands run in."""
    require_tool("npm")
    node = require_tool("node")
    version = run_command(node, "--version").stdout.strip()
    found = tuple(int(part) for part in version.lstrip("v").split(".")[:2])
    if found < NODE_MINIMUM:
        _unavailable(f"Node.js {version} is too old for the test apps (20.19+ needed)")
    if not (FRONTEND / "node_modules").is_dir():
        _unavailable("the frontend's dependencies are not installed (run `make frontend`)")
    return {
        **os.environ,
        "NEXT_TELEMETRY_DISABLED": "1",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_update_notifier": "false",
    }


@pytest.fixture(scope="module")
def tarball(npm_env: Mapping[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tarball ``npm pack`` makes of ``frontend/``, its build included."""
    out = tmp_path_factory.mktemp("pack")
    done = run_command(
        "npm", "pack", "--json", "--pack-destination", out, cwd=FRONTEND, env=npm_env
    )
    # prepack's build prints to stdout before npm's JSON.
    (packed,) = json.loads(done.stdout[done.stdout.index("[") :])
    return out / packed["filename"]


@pytest.fixture(scope="module")
def apps(
    npm_env: Mapping[str, str], tarball: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The three apps, their locked dependencies installed, and the tarball in each."""
    root = tmp_path_factory.mktemp("apps") / "apps"
    shutil.copytree(APPS, root)
    npm = ("npm", "--prefer-offline", "--no-audit", "--no-fund")
    # ci: the lockfile must match the apps' package.json files, or this fails.
    run_command(*npm, "ci", cwd=root, env=npm_env)
    workspaces = [arg for name in WORKSPACES for arg in ("--workspace", name)]
    run_command(*npm, "install", tarball, *workspaces, cwd=root, env=npm_env)
    return root


def test_the_tarball_holds_the_build_readme_and_license_only(tarball: Path) -> None:
    with tarfile.open(tarball) as archive:
        names = {name.removeprefix("package/") for name in archive.getnames()}
        client = {name: _read(archive, name) for name in CLIENT_MODULES}
        manifest = json.loads(_read(archive, "package.json"))
    assert names - {"package.json", "README.md", "LICENSE"} == {
        name for name in names if name.startswith("dist/")
    }
    modules = {name.removesuffix(".js") for name in names if name.endswith(".js")}
    assert modules == {
        "dist/index",
        "dist/SocketStatusService",
        "dist/useSocketStatus",
        "dist/SocketStatusIndicator",
    }
    for module in modules:
        assert {f"{module}.js", f"{module}.js.map", f"{module}.d.ts"} <= names
    assert "dist/SocketStatusIndicator.css" in names
    for name, text in client.items():
        assert text.startswith('"use client";\n'), name
    # Compiled JSX: calls into React's runtime, no markup left for the app's bundler.
    assert 'from "react/jsx-runtime"' in client["dist/SocketStatusIndicator.js"]
    assert manifest["license"] == "MIT"
    assert "private" not in manifest
    assert manifest["exports"]["."] == {"types": "./dist/index.d.ts", "default": "./dist/index.js"}


def _read(archive: tarfile.TarFile, name: str) -> str:
    member = archive.extractfile(f"package/{name}")
    assert member is not None, name
    return member.read().decode()


def test_a_vite_react_app_builds_tests_and_node_imports_it(
    apps: Path, npm_env: Mapping[str, str]
) -> None:
    app = apps / "vite-js"
    run_command("npm", "run", "build", cwd=app, env=npm_env)
    assert list((app / "dist" / "assets").glob("*.css")), "the package's CSS is not in the build"
    tested = run_command("npm", "test", cwd=app, env=npm_env)
    assert re.search(r"Tests\s+1 passed", _plain(tested.stdout)), tested.stdout
    imported = run_command("node", "node-import.mjs", cwd=app, env=npm_env)
    result = json.loads(imported.stdout)
    assert {"SocketStatusService", "useSocketStatus", "SocketStatusIndicator"} <= set(
        result["names"]
    )
    assert result["line"] == "3 open WebSockets (call 2, stt 1)"


def test_a_strict_typescript_app_typechecks_and_a_wrong_prop_does_not(
    apps: Path, npm_env: Mapping[str, str]
) -> None:
    app = apps / "vite-ts"
    # tsc -b covers src/misuses.tsx: its expected errors must still be errors.
    run_command("npm", "run", "build", cwd=app, env=npm_env)
    wrong = run_command("npx", "tsc", "-p", "tsconfig.misuse.json", cwd=app, env=npm_env, ok=False)
    assert wrong.returncode != 0
    assert "misuse/WrongProp.tsx" in wrong.stdout
    assert "error TS2322: Type 'string' is not assignable to type 'boolean" in wrong.stdout


@pytest.mark.parametrize("bundler", ["turbopack", "webpack"])
def test_a_next_server_component_page_prerenders_the_indicator(
    apps: Path, npm_env: Mapping[str, str], bundler: str
) -> None:
    app = apps / "next-app"
    shutil.rmtree(app / ".next", ignore_errors=True)
    script = "build" if bundler == "turbopack" else "build:webpack"
    built = run_command("npm", "run", script, cwd=app, env=npm_env)
    assert ("Turbopack" in built.stdout) == (bundler == "turbopack"), built.stdout
    html = (app / ".next" / "server" / "app" / "index.html").read_text()
    assert 'class="vidai-ssi vidai-ssi--compact vidai-ssi--loading"' in html
    assert 'class="vidai-ssi vidai-ssi--full vidai-ssi--loading"' in html
    assert "WebSocket unavailable." in html  # the client component using the hook


def _plain(text: str) -> str:
    """Text without ANSI colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
