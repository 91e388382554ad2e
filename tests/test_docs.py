"""The README and docs/ against the code: metric tables, the quickstart's two copies, links.

The README is the PyPI page, so its links are absolute; those into this
repository must name files (and headings) that exist. The docs site itself is
built with ``mkdocs build --strict`` by ``make docs``, which checks the links
between pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import override_settings
from markdown.extensions.toc import slugify
from prometheus_client import CollectorRegistry

from metrics import SocketTracker
from metrics.multiprocess.worker_files import WORKER_REFRESH

from .integration.test_adoption import adoption_snippets
from .servers import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
REPOSITORY = "https://github.com/vidai/vidai-socket-status/blob/main/"
# The wire type as the tables write it (the OpenMetrics name, spelt out).
TABLE_TYPES = {"gaugehistogram": "gauge histogram"}


def exported_families() -> dict[str, str]:
    """Every family the product exports, by its exposed name: name -> type.

    A fresh tracker on its own registry exports every family of one process
    once a connection limit is configured; multiprocess mode adds the workers'
    refresh stamps.
    """
    registry = CollectorRegistry()
    with override_settings(VIDAI_METRICS={"CONNECTION_LIMIT": 100}):
        SocketTracker(registry)
        families = {
            metric.name + ("_total" if metric.type == "counter" else ""): metric.type
            for metric in registry.collect()
        }
    families[WORKER_REFRESH] = "gauge"
    return {name: TABLE_TYPES.get(kind, kind) for name, kind in families.items()}


def metric_table(path: Path) -> dict[str, str]:
    """The first table of a page whose rows name a family: name -> type."""
    rows = re.findall(r"^\| `(vidai_websocket_\w+)` \| ([^|]+?) \|", path.read_text(), re.M)
    table = dict(rows)
    assert len(table) == len(rows), f"a family is listed twice in {path.name}"
    return table


@pytest.mark.parametrize("path", [README, DOCS / "metrics.md"], ids=lambda p: p.name)
def test_the_metric_table_lists_exactly_the_exported_families(path: Path) -> None:
    assert metric_table(path) == exported_families()


def test_the_readme_is_a_landing_page() -> None:
    readme = README.read_text(encoding="utf-8")
    assert len(readme.encode()) <= 10_000
    first_lines = readme.splitlines()[:40]
    assert any(line.startswith("pip install vidai-socket-status") for line in first_lines)
    assert any("[daphne,multiprocess,redis,http,ops]" in line for line in first_lines)


def test_the_adoption_page_shows_the_readme_quickstart() -> None:
    page = adoption_snippets(DOCS / "adopting.md", "## Settings, routes, ASGI application and URLs")
    assert page == adoption_snippets()
    assert list(page) == [
        "mysite/settings.py",
        "chat/routing.py",
        "mysite/asgi.py",
        "mysite/urls.py",
    ]


def headings(path: Path) -> set[str]:
    """The anchors GitHub and MkDocs give a page's headings (the same for these pages)."""
    anchors, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            anchors.add(slugify(match.group(1), "-"))
    return anchors


def test_the_readme_links_are_absolute_and_reach_this_repository() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text(encoding="utf-8"))
    assert links
    for link in links:
        assert link.startswith("https://"), f"relative link {link!r} breaks on PyPI"
        if link.startswith(REPOSITORY):
            path, _, anchor = link.removeprefix(REPOSITORY).partition("#")
            assert (ROOT / path).is_file(), link
            if anchor:
                assert anchor in headings(ROOT / path), link
