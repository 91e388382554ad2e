"""Run the benchmarks and print one table: ``python -m benchmarks [--strict] [NAME ...]``."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from . import Result

NAMES = (
    "session",
    "peers",
    "bookkeeping",
    "render",
    "memory",
    "multiprocess",
    "server",
    "scrape",
    "redaction",
    "bytecodes",
    "scale",
)


def _setup_django() -> None:
    # The benchmarks need settings (the exporter's defaults, the channel layer),
    # not a database; the test settings carry a throwaway secret key.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.demo.settings")
    import django

    django.setup()


def _benchmarks() -> dict[str, Callable[[], list[Result]]]:
    from . import (
        bookkeeping,
        bytecodes,
        memory,
        multiprocess,
        peers,
        redaction,
        render,
        scale,
        scrape_latency,
        server_cpu,
        session,
    )

    return {
        "session": session.run,
        "peers": peers.run,
        "bookkeeping": bookkeeping.run,
        "render": render.run,
        "memory": memory.run,
        "multiprocess": multiprocess.run,
        "server": server_cpu.run,
        "scrape": scrape_latency.run,
        "redaction": redaction.run,
        "bytecodes": bytecodes.run,
        "scale": scale.run,
    }


def _verdict(result: Result) -> str:
    if result.passed is None:
        return "info"
    return "[green]PASS[/]" if result.passed else "[bold red]FAIL[/]"


def _figure(result: Result) -> str:
    if result.unit == "x":
        return f"{result.figure:.3f}x"
    return f"{result.figure:.2f} {result.unit}"


def _target(result: Result) -> str:
    if result.target is None:
        return "-"
    if result.unit == "x":
        return f"<= {result.target:.2f}x"
    return f"<= {result.target:g} {result.unit}"


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; return 1 only with --strict and a missed target."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"run only these of: {', '.join(NAMES)}"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    scale_options = parser.add_argument_group("scale", "the scale benchmark's parameters")
    scale_options.add_argument("--workers", type=int, default=2, help="server workers (2)")
    scale_options.add_argument("--sockets", type=int, default=10_000, help="held sockets (10000)")
    scale_options.add_argument("--clients", type=int, default=2, help="client processes (2)")
    scale_options.add_argument("--rounds", type=int, default=3, help="rounds of each mode (3)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    names = args.names or list(NAMES)

    console = Console(width=max(Console().width, 140))
    load = os.getloadavg()
    console.print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    _setup_django()
    from . import scale

    scale.PARAMETERS = scale.Parameters(args.workers, args.sockets, args.clients, args.rounds)
    benchmarks = _benchmarks()
    results: list[Result] = []
    for name in names:
        start = time.perf_counter()
        rows = benchmarks[name]()
        console.print(f"{name}: done in {time.perf_counter() - start:.1f} s")
        results.extend(rows)

    table = Table(title="vidai socket exporter benchmarks")
    for column in ("benchmark", "measured", "baseline (same run)", "figure", "target", "result"):
        table.add_column(column, overflow="fold")
    for result in results:
        table.add_row(
            result.benchmark,
            result.measured,
            result.baseline,
            _figure(result),
            _target(result),
            _verdict(result),
        )
    console.print(table)

    missed = [result.benchmark for result in results if result.passed is False]
    if missed:
        console.print(f"[bold red]Missed targets:[/] {'; '.join(missed)}")
    else:
        console.print("[green]All targets met.[/]")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
