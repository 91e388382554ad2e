"""The package's layers: imports go one way, no cycle, and one process loads no multiprocess code.

docs/architecture.md draws the layers; this reads every ``import`` in
``metrics/`` (those inside functions too) and fails on one that goes the
wrong way.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "metrics"

# What each layer may import besides itself, lowest first: contract <- core
# <- asgi, multiprocess <- http <- contrib. The package's root modules that
# Django or adopters name (apps, checks, urls, the re-exports) sit on top.
BASE = ("metrics.contract", "metrics.label_values", "metrics.conf")
ALLOWED: dict[str, tuple[str, ...]] = {
    "base": ("base",),
    "core": ("base",),
    "asgi": ("base", "core"),
    "multiprocess": ("base", "core"),
    "http": ("base", "core", "asgi", "multiprocess"),
    "contrib": ("base", "core", "asgi", "multiprocess", "http"),
    "ops_assets": ("base",),
    "top": ("base", "core", "asgi", "multiprocess", "http", "contrib", "ops_assets", "top"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    if module in BASE:
        return "base"
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return "top"


def _imports() -> dict[str, set[str]]:
    """Every metrics module and the metrics modules it imports."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                # "from . import label_values" imports the submodule itself.
                names = [f"{target}.{alias.name}" for alias in node.names]
                found.update(name for name in names if name in modules)
                if target in modules and not any(name in modules for name in names):
                    found.add(target)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name in modules)
        graph[module] = {target for target in found if target.startswith("metrics")} - {module}
    return graph


def test_the_graph_sees_every_layer() -> None:
    graph = _imports()
    assert {_layer(module) for module in graph} == set(ALLOWED)
    assert "metrics.core.tracker" in graph["metrics.asgi.tracking"]
    assert "metrics.label_values" in graph["metrics.asgi.tracking"]  # from .. import label_values


def test_imports_go_one_way() -> None:
    wrong = sorted(
        f"{module} ({_layer(module)}) imports {target} ({_layer(target)})"
        for module, targets in _imports().items()
        for target in targets
        if _layer(target) != _layer(module) and _layer(target) not in ALLOWED[_layer(module)]
    )
    assert wrong == []


def test_no_import_cycle() -> None:
    graph = _imports()
    # Tarjan's strongly connected components: any with two modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize(
    "statement",
    [
        "import metrics",
        "import django; django.setup(); import metrics.urls; metrics.default_tracker()",
    ],
)
def test_one_process_loads_no_multiprocess_code(statement: str) -> None:
    code = (
        f"{statement}; import sys; "
        "print(sorted(m for m in sys.modules if m.startswith('metrics.multiprocess') "
        "or m == 'prometheus_client.multiprocess'))"
    )
    env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
    env["DJANGO_SETTINGS_MODULE"] = "tests.matrix.settings"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"
