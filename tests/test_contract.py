"""The metric contract is written once: every family's name and HELP in metrics/contract.py."""

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
