import pytest
import torch

from profiling import timing
from profiling.correctness import compare_outputs, tolerance_for
from profiling.errors import Verdict
from profiling.measurement import Status


def test_summarize_quantiles():
    t = timing.summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (t.median_ms, t.p20_ms, t.p80_ms, t.reps) == (3.0, 1.8, 4.2, 5)


def _sets(n=3):
    return [[torch.randn(8, 8, generator=torch.Generator().manual_seed(i))] for i in range(n)]


def _checker(sets):
    refs = [torch.softmax(s[0], -1) for s in sets]
    tol = tolerance_for(torch.float32)

    def check(k, out):
        c = compare_outputs(out, refs[k], tol)
        return None if c.ok else c.error

    return check


def test_interleaved_timing_rotates_inputs_and_checks_outputs():
    sets = _sets()
    seen = []

    def ref(x):
        seen.append(("ref", x.data_ptr(), float(x[0, 0])))
        return torch.softmax(x, -1)

    def cand(x):
        seen.append(("cand", x.data_ptr(), float(x[0, 0])))
        return torch.softmax(x, -1)

    cs = [
        timing.Contender("reference", ref, timing.make_buffers(sets[0])),
        timing.Contender("candidate", cand, timing.make_buffers(sets[0]), check=_checker(sets)),
    ]
    cfg = timing.TimingConfig(warmup_ms=0, rep_ms=0, min_reps=6, max_reps=6, rounds=3)
    res = timing.time_interleaved(cs, sets, timing.WallClock(), None, cfg)
    assert res["reference"].reps == 6 and res["candidate"].reps == 6
    cand_calls = [s for s in seen if s[0] == "cand"]
    assert len({p for _, p, _ in cand_calls}) == 1  # pointer-stable buffers ...
    assert len({v for _, _, v in cand_calls}) == 3  # ... holding rotating data
    order = [s[0] for s in seen[2:]]  # after the two estimate calls: blocks alternate
    assert order[:4] == ["ref", "ref", "cand", "cand"] and order[4:8] == [
        "cand",
        "cand",
        "ref",
        "ref",
    ]


def _pointer_cached():
    """A softmax that caches its output by the input's data pointer (a known hack)."""
    cache = {}

    def cached(x):
        if x.data_ptr() not in cache:
            cache[x.data_ptr()] = torch.softmax(x, -1)
        return cache[x.data_ptr()]

    return cached


def test_pointer_cache_fails_the_timed_output_check():
    sets = _sets()
    cached = _pointer_cached()
    c = timing.Contender("candidate", cached, timing.make_buffers(sets[0]), check=_checker(sets))
    cfg = timing.TimingConfig(warmup_ms=0, rep_ms=0, min_reps=3, max_reps=3, rounds=3)
    with pytest.raises(Verdict) as e:
        timing.time_interleaved([c], sets, timing.WallClock(), None, cfg)
    assert e.value.status is Status.INCORRECT and "timed run" in e.value.error


def test_reused_output_buffer_is_fine():
    sets = _sets()
    out = torch.empty(8, 8)

    def inplace(x):  # returns the same tensor object every call: legitimate
        torch.softmax(x, -1, out=out)
        return out

    c = timing.Contender("candidate", inplace, timing.make_buffers(sets[0]), check=_checker(sets))
    cfg = timing.TimingConfig(warmup_ms=0, rep_ms=0, min_reps=6, max_reps=6, rounds=2)
    assert timing.time_interleaved([c], sets, timing.WallClock(), None, cfg)["candidate"].reps == 6


def test_hidden_work_error_threshold():
    assert timing.hidden_work_error(10.0, 9.5, 10) is None
    assert timing.hidden_work_error(0.08, 0.01, 10) is None  # sync latency on a tiny kernel
    assert "side stream" in timing.hidden_work_error(10.0, 0.1, 10)
    assert timing.hidden_work_error(0.5, 0.1, 10, overhead_ms=0.45) is None  # slow-sync machine
    assert timing.hidden_work_error(2.0, 0.1, 10, overhead_ms=0.45) is not None


def test_two_sets_catch_a_pointer_cache_and_checks_do_not_depend_on_the_set_count():
    sets = _sets(2)
    cached = _pointer_cached()
    c = timing.Contender("candidate", cached, timing.make_buffers(sets[0]), check=_checker(sets))
    cfg = timing.TimingConfig(warmup_ms=0, rep_ms=0, min_reps=8, max_reps=8, rounds=2)
    with pytest.raises(Verdict):
        timing.time_interleaved([c], sets, timing.WallClock(), None, cfg)
    # one set: still CHECKED_PER_BLOCK checks per block, each right after its call
    one = _sets(1)
    inner = _checker(one)
    log = []

    def check(k, out):
        log.append(("check", k))
        return inner(k, out)

    def cand(x):
        log.append(("call", None))
        return torch.softmax(x, -1)

    c = timing.Contender("candidate", cand, timing.make_buffers(one[0]), check=check)
    timing.time_interleaved([c], one, timing.WallClock(), None, cfg)
    assert sum(1 for e in log if e[0] == "check") == 2 * timing.CHECKED_PER_BLOCK
    assert all(log[i - 1][0] == "call" for i, e in enumerate(log) if e[0] == "check")


def test_the_flush_buffer_is_three_l2s_and_at_least_256_mib() -> None:
    from profiling.timing import flush_bytes

    assert flush_bytes(0) == 256 << 20
    assert flush_bytes(50 << 20) == 256 << 20  # 3 x 50 MiB is below the minimum
    assert flush_bytes(60 << 20) == 256 << 20  # an H200 (60 MiB of L2): the minimum
    assert flush_bytes(100 << 20) == 3 * (100 << 20)


def test_host_stats_split_the_calls_at_one_and_a_half_p20() -> None:
    c = timing.Contender("candidate", lambda: None, [])
    c.times = [1.0, 1.0, 1.1, 1.0, 3.0, 2.9, 1.0, 1.0, 1.0, 1.0]
    c.host = [0.1, 0.1, 0.1, 0.1, 0.9, 0.8, 0.1, 0.2, 0.1, 0.1]
    s = timing.host_stats(c)
    assert s["slow_calls"] == 0.2
    assert s["slow_call_host_ms"] == pytest.approx(0.85) and s["fast_call_host_ms"] == 0.1
    assert s["host_call_ms"] == 0.1 and s["host_call_p80_ms"] == pytest.approx(0.32)
    c.times, c.host = [1.0] * 4, [0.1] * 4  # no slow call: no slow_call_host_ms
    assert "slow_call_host_ms" not in timing.host_stats(c)
    assert timing.host_stats(timing.Contender("x", lambda: None, [])) == {}


def test_timed_calls_record_their_host_time_in_step_with_their_times() -> None:
    """Every third call of the candidate spends 20 ms on the host instead of 4 before it
    returns: the wall clock sees those calls slow, and host_stats ties them to their host
    time."""
    import time

    sets = _sets()
    n = [0]

    def cand(x):
        n[0] += 1
        time.sleep(0.02 if n[0] % 3 == 0 else 0.004)
        return torch.softmax(x, -1)

    ref = timing.Contender("reference", lambda x: torch.softmax(x, -1), timing.make_buffers(sets[0]))
    c = timing.Contender("candidate", cand, timing.make_buffers(sets[0]), check=_checker(sets))
    cfg = timing.TimingConfig(warmup_ms=0, rep_ms=0, min_reps=12, max_reps=12, rounds=3)
    res = timing.time_interleaved([ref, c], sets, timing.WallClock(), None, cfg)
    assert len(c.host) == len(c.times) == res["candidate"].reps == 12
    assert len(ref.host) == len(ref.times) == 12
    s = timing.host_stats(c)
    assert 0.2 <= s["slow_calls"] <= 0.5
    assert s["slow_call_host_ms"] >= 20 > 10 > s["fast_call_host_ms"] >= 4


def test_the_hold_is_calibrated_once_and_queued_after_the_flush(monkeypatch) -> None:
    log: list[tuple[str, float]] = []

    class Event:
        def __init__(self, enable_timing: bool = False) -> None:
            self.t = 0.0

    clock = [0.0]

    def sleep(cycles: int) -> None:
        log.append(("sleep", cycles))
        clock[0] += cycles / 1000.0  # a device that spins 1000 cycles a microsecond

    def record(e: Event) -> None:
        e.t = clock[0]

    monkeypatch.setattr(timing, "_sleep", sleep)
    monkeypatch.setattr(timing, "_Event", Event)
    monkeypatch.setattr(timing, "_record", record)
    monkeypatch.setattr(timing, "_elapsed", lambda s, e: (e.t - s.t) / 1e3)
    monkeypatch.setattr(timing, "_synchronize", lambda: None)
    hold = timing.GpuHold()
    assert hold.cycles_per_us == pytest.approx(1000.0)
    log.clear()
    before = timing.hold_after(lambda: log.append(("flush", 0)), hold, 50.0)
    before()
    assert log == [("flush", 0), ("sleep", 50_000)]
    timing.hold_after(None, hold, 0.0001)()  # never a zero-cycle launch
    assert log[-1] == ("sleep", 1)


def test_no_hold_without_the_spin_kernel(monkeypatch) -> None:
    monkeypatch.setattr(timing, "_sleep", None)
    with pytest.raises(RuntimeError, match="_sleep"):
        timing.GpuHold()
