"""The metric contract is written once: every family's name and HELP in metrics/contract.py."""

import ast
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from metrics import contract
from metrics.core.tracker import SocketTracker

PACKAGE = Path(contract.__file__).parent


def sources() -> dict[Path, str]:
    """Each module's code, its docstring examples (>>> lines) left out."""
    return {
        path: "\n".join(
            line
            for line in path.read_text().splitlines()
            if not line.lstrip().startswith((">>>", "..."))
        )
        for path in PACKAGE.rglob("*.py")
    }


def test_each_help_text_and_name_is_written_in_one_module_only() -> None:
    texts = sources()
    for name, help_text in contract.HELP.items():
        with_help = [path.name for path, text in texts.items() if help_text in text]
        assert with_help == ["contract.py"], (name, with_help)
        elsewhere = [
            path
            for path, text in texts.items()
            if f'"{name}"' in text and path.name != "contract.py"
        ]
        assert elsewhere == [], name


def test_every_family_a_tracker_exports_has_its_help_from_the_contract() -> None:
    registry = CollectorRegistry()
    SocketTracker(registry, types=("call",))
    exported = {family.name: family.documentation for family in registry.collect()}
    assert exported
    for name, documentation in exported.items():
        assert documentation == contract.HELP[name], name


def _string_constants(path: Path) -> list[str]:
    """The module's string literals (f-strings' literal parts too), docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


# A family's name; the prose wildcard vidai_websocket_* is none.
FAMILY_NAME = re.compile(r"vidai_websocket_[a-z]")


def test_no_module_but_the_contract_spells_a_family_name() -> None:
    spelled = {
        path.relative_to(PACKAGE).as_posix(): found
        for path in PACKAGE.rglob("*.py")
        if path.name != "contract.py"
        and (found := [text for text in _string_constants(path) if FAMILY_NAME.search(text)])
    }
    assert spelled == {}
