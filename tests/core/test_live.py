from metrics.core.live import LiveSockets

NS = 1_000_000_000


class FakeClock:
    def __init__(self, now_s: float) -> None:
        self.now_ns = int(now_s * NS)

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * NS)


def test_a_socket_is_removed_exactly_once() -> None:
    live = LiveSockets()
    key = live.add("call", user_id="7")
    assert live.count("call") == 1
    removed = live.discard(key)
    assert removed is not None
    assert (removed.type, removed.user_id) == ("call", "7")
    assert live.discard(key) is None
    assert live.count("call") == 0
    assert len(live) == 0


def test_a_caller_key_cannot_be_registered_twice() -> None:
    live = LiveSockets()
    live.add("stt", key=("manual", "a"))
    try:
        live.add("stt", key=("manual", "a"))
    except KeyError:
        pass
    else:
        raise AssertionError("a duplicate key was accepted")
    assert live.count("stt") == 1


def test_snapshot_counts_ages_into_cumulative_buckets() -> None:
    clock = FakeClock(1_800_000_000)
    live = LiveSockets(clock_ns=clock, monotonic_ns=clock)
    live.add("call")  # will be 100 s old
    clock.advance(90)
    live.add("call")  # 10 s old
    clock.advance(10)
    live.add("call")  # 0 s old
    snap = live.snapshot(["call", "stt"], (5.0, 10.0, 60.0))["call"]
    assert snap.open == 3
    assert snap.oldest_start == 1_800_000_000
    assert snap.age_buckets == ((5.0, 1), (10.0, 2), (60.0, 2), (float("inf"), 3))
    assert snap.age_sum == 110.0


def test_snapshot_of_a_type_without_sockets_reports_infinite_oldest_start() -> None:
    live = LiveSockets()
    key = live.add("stt")
    live.discard(key)
    snap = live.snapshot(["stt"], (10.0,))["stt"]
    assert (snap.open, snap.oldest_start, snap.age_sum) == (0, float("inf"), 0.0)
    assert snap.age_buckets == ((10.0, 0), (float("inf"), 0))


def test_age_sum_stays_exact_over_many_opens_and_closes() -> None:
    clock = FakeClock(1_800_000_000.123456789)
    live = LiveSockets(clock_ns=clock, monotonic_ns=clock)
    keep = live.add("call")
    for _ in range(10_000):
        clock.advance(0.001)
        live.discard(live.add("call"))
    snap = live.snapshot(["call"], ())["call"]
    assert snap.open == 1
    assert snap.age_sum == (clock.now_ns - live.sockets()[0].started_ns) / NS
    assert live.sockets()[0].key == keep


def test_lifetime_uses_the_monotonic_clock() -> None:
    wall = FakeClock(1_800_000_000)
    mono = FakeClock(50)
    live = LiveSockets(clock_ns=wall, monotonic_ns=mono)
    sock = live.discard(live.add("call"))
    assert sock is not None
    wall.advance(-3600)  # the wall clock stepped back; the lifetime must not care
    mono.advance(2.5)
    assert live.lifetime(sock) == 2.5
