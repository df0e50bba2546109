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
