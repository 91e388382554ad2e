"""What a project's own tests need of the exporter: an isolated tracker, its samples.

In the spirit of ``channels.testing``. Routes wrapped with ``track()`` (and
``track_rejections()``, the status services) read the process's default
tracker when a socket arrives, so a test that wraps its sockets in
``isolated_tracker()`` counts into a fresh registry of its own, whatever other
tests counted before::

    from channels.testing import WebsocketCommunicator
    from metrics.contract import CONNECTIONS, OPENED
    from metrics.testing import isolated_tracker, sample

    async def test_a_call_is_counted_once():
        with isolated_tracker() as tracker:
            communicator = WebsocketCommunicator(application, "/ws/call/room/")
            connected, _ = await communicator.connect()
            assert sample(tracker, CONNECTIONS, type="call") == 1
            await communicator.disconnect()
        assert sample(tracker, OPENED + "_total", type="call") == 1

The family names are ``metrics.contract``'s constants (or the literal names
of ``docs/metrics.md``).

Not for multiprocess mode: the isolated tracker counts in this process only,
and ``isolated_tracker()`` says so if ``PROMETHEUS_MULTIPROC_DIR`` is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry

from .conf import multiprocess_dir
from .core.tracker import SocketTracker, replace_default_tracker

__all__ = ["isolated_tracker", "sample"]

# The sample names a family of each type exposes, after its own name.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


@contextmanager
def isolated_tracker() -> Iterator[SocketTracker]:
    """Count every socket into a fresh tracker on its own registry until the block ends.

    The tracker reports every declared type from the start (0 when none is
    open), as the default one does; the previous default comes back after.
    Raises ``RuntimeError`` in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``).
    """
    if multiprocess_dir():
        # /metrics would read the workers' files, never this tracker.
        raise RuntimeError(
            "isolated_tracker() counts in one process: unset PROMETHEUS_MULTIPROC_DIR"
        )
    tracker = SocketTracker(CollectorRegistry())
    previous = replace_default_tracker(tracker)
    try:
        yield tracker
    finally:
        replace_default_tracker(previous)


def sample(tracker: SocketTracker, name: str, **labels: str) -> float:
    """Return the value of sample ``name`` with exactly ``labels``, as ``/metrics`` shows it.

    ``name`` is the sample's name (``..._total`` for counters, ``..._bucket``
    with ``le`` for histograms). A series never touched is 0.0; a name no
    family in the registry exposes raises ``KeyError``, so a misspelt name
    cannot pass for zero.

    >>> from metrics import SocketTracker
    >>> tracker = SocketTracker(CollectorRegistry(), types=("call",))
    >>> sample(tracker, "vidai_websocket_connections", type="call")
    0.0
    >>> sample(tracker, "vidai_websocket_conections", type="call")
    Traceback (most recent call last):
    ...
    KeyError: "no sample named 'vidai_websocket_conections' in the tracker's registry"
    """
    known = False
    for family in tracker.registry.collect():
        if name not in (family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))):
            continue
        known = True
        for each in family.samples:
            if each.name == name and each.labels == labels:
                return each.value
    if not known:
        raise KeyError(f"no sample named {name!r} in the tracker's registry")
    return 0.0
