"""``python -m metrics.ops_assets``: render the ops assets for a scrape job.

Without ``--out`` it regenerates the files bundled in a checkout of this
repository (``prometheus/rules/``, ``grafana/dashboards/``,
``deploy/kubernetes/prometheusrule.yaml``); ``--check`` only reports whether
they are stale.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from . import PATHS, Config, render, write

# A checkout: the directory above the metrics package, holding the bundled assets.
CHECKOUT = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    defaults = Config()
    parser = argparse.ArgumentParser(prog="python -m metrics.ops_assets", description=__doc__)
    parser.add_argument("--job", default=defaults.job, help="scrape job (default: %(default)s)")
    parser.add_argument(
        "--out", type=Path, help="output directory (default: this checkout's bundled files)"
    )
    parser.add_argument(
        "--runbook-url", default=defaults.runbook_url, help="absolute URL of docs/runbook.md"
    )
    parser.add_argument("--grafana-url", default=defaults.grafana_url, help="Grafana's base URL")
    parser.add_argument(
        "--instance-labels",
        default=",".join(defaults.instance_labels),
        help="labels telling targets apart, job among them (default: %(default)s)",
    )
    parser.add_argument(
        "--fleet-labels",
        default=",".join(defaults.fleet_labels),
        help="labels telling deployments apart, job among them (default: %(default)s)",
    )
    parser.add_argument(
        "--misreporting-servers",
        default=",".join(defaults.misreporting_servers),
        help="servers reporting clean closes as 1006, skipped by the abnormal-close alert "
        "(default: %(default)s; empty: none)",
    )
    for name in ("handshake_objective", "close_objective"):
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            default=getattr(defaults, name),
            help="SLO objective (default: %(default)s)",
        )
    parser.add_argument("--page-severity", default=defaults.page, help="a page's severity label")
    parser.add_argument("--ticket-severity", default=defaults.ticket, help="a ticket's severity")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other number of Config, e.g. dropped_min_rate=0.1 or capacity_ratio=0.9",
    )
    parser.add_argument(
        "--for",
        dest="durations",
        action="append",
        default=[],
        metavar="NAME=DURATION",
        help="an alert's for: duration by its Config name, e.g. target_down=10m",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs")
    return parser


def _overrides(
    parser: argparse.ArgumentParser, settings: list[str], durations: list[str]
) -> tuple[dict[str, object], dict[str, str]]:
    """``--set`` and ``--for`` as Config changes; a wrong name or value is a usage error."""
    defaults = Config()
    numbers = {
        field.name: type(getattr(defaults, field.name))
        for field in dataclasses.fields(Config)
        if type(getattr(defaults, field.name)) in (int, float)
    }
    changes: dict[str, object] = {}
    for item in settings:
        name, _, text = item.partition("=")
        if name not in numbers:
            parser.error(f"--set {item!r}: choose a number field of: {', '.join(sorted(numbers))}")
        try:
            changes[name] = numbers[name](text)
        except ValueError:
            parser.error(f"--set {item!r}: {text!r} is not a {numbers[name].__name__}")
    for_durations = dict(defaults.durations)
    for item in durations:
        name, _, text = item.partition("=")
        if name not in for_durations or not re.fullmatch(r"\d+[smh]", text):
            parser.error(
                f"--for {item!r}: NAME is one of {', '.join(sorted(for_durations))}, "
                "DURATION like 5m"
            )
        for_durations[name] = text
    return changes, for_durations


def _labels(text: str) -> tuple[str, ...]:
    return tuple(label.strip() for label in text.split(",") if label.strip())


def _config(
    args: argparse.Namespace, changes: dict[str, object], durations: dict[str, str]
) -> Config:
    return Config(
        job=args.job,
        runbook_url=args.runbook_url,
        grafana_url=args.grafana_url,
        instance_labels=_labels(args.instance_labels),
        fleet_labels=_labels(args.fleet_labels),
        misreporting_servers=_labels(args.misreporting_servers),
        handshake_objective=args.handshake_objective,
        close_objective=args.close_objective,
        page=args.page_severity,
        ticket=args.ticket_severity,
        durations=durations,
    ).replace(**changes)


def main(argv: Sequence[str] | None = None) -> int:
    """Render the assets; return 1 with ``--check`` when a file is stale."""
    parser = _parser()
    args = parser.parse_args(argv)
    changes, durations = _overrides(parser, args.set, args.durations)
    try:
        config = _config(args, changes, durations)
    except ValueError as error:
        parser.error(str(error))
    out: Path = args.out or CHECKOUT
    if args.out is None and not (CHECKOUT / "prometheus" / "rules").is_dir():
        print("not a checkout of vidai-socket-status: give --out", file=sys.stderr)
        return 2
    if args.check:
        stale = [
            path
            for path, text in render(config).items()
            if not (out / path).is_file() or (out / path).read_text(encoding="utf-8") != text
        ]
        for path in stale:
            print(f"{out / path} is stale: run python -m metrics.ops_assets", file=sys.stderr)
        return 1 if stale else 0
    changed = write(config, out)
    for path in PATHS:
        print(f"{'wrote' if out / path in changed else 'unchanged:'} {out / path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
