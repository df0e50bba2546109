"""The memory policy's arithmetic (profiling.memory): the budget of one evaluation and how
many rotation sets fit in it and in free memory, at several task sizes."""

from __future__ import annotations

import pytest

from profiling.memory import (
    BUDGET_FACTOR,
    FIXED_ALLOWANCE,
    MARGIN_BYTES,
    MAX_SETS,
    evaluation_budget,
    timing_bytes,
    timing_sets,
)

M, G = 1 << 20, 1 << 30
H200 = 139 * G  # free on an idle H200


def test_the_budget_is_three_times_the_tasks_bytes_plus_a_fixed_allowance() -> None:
    assert BUDGET_FACTOR == 3 and FIXED_ALLOWANCE == 64 * M
    assert evaluation_budget(G, 2 * G) == 9 * G + 64 * M
    assert evaluation_budget(0, 0) == 64 * M  # no 4 GiB floor any more
    assert timing_bytes(2, 5 * G, 7 * G) == 3 * 5 * G + 3 * 7 * G
    assert timing_bytes(1, 5 * G, 7 * G) == 2 * 5 * G + 3 * 7 * G


def test_without_a_gpu_the_wanted_count_is_used() -> None:
    assert timing_sets(6 * G, 6 * G, MAX_SETS, None) == MAX_SETS == 2
    assert timing_sets(1, 1, 3, None) == 3


@pytest.mark.parametrize(
    ("in_b", "out_b"),
    [
        (4 * M, 4 * M),  # tiny elementwise
        (128 * M, 128 * M),  # a bundled task (softmax, swiglu: I = 2 O)
        (256 * M, 128 * M),
        (G, 4 * M),  # a reduction: small output
        (G // 3, G // 2),  # matmul-like
        (int(6.4e9), int(6.4e9)),  # KernelBench 19_ReLU at its own size
        (int(12.8e9), int(6.4e9)),  # a two-input elementwise op at that size
    ],
)
def test_two_sets_fit_every_tasks_budget_on_an_idle_gpu(in_b: int, out_b: int) -> None:
    n = timing_sets(in_b, out_b, MAX_SETS, H200)
    assert n == 2
    assert timing_bytes(n, in_b, out_b) <= evaluation_budget(in_b, out_b)
    # a correctness trial (3 I + 2 O) fits too
    assert 3 * in_b + 2 * out_b <= evaluation_budget(in_b, out_b)


def test_free_memory_decides_when_it_is_short() -> None:
    i = o = int(6.4e9)  # 12.8 GB of task bytes
    need2, need1 = timing_bytes(2, i, o), timing_bytes(1, i, o)
    assert timing_sets(i, o, 2, need2 + MARGIN_BYTES) == 2  # just enough
    assert timing_sets(i, o, 2, need2 + MARGIN_BYTES - 1) == 1  # a busy 80 GB GPU
    assert timing_sets(i, o, 2, need1 // 2) == 1  # never fewer than one
    assert timing_sets(i, o, 2, 0) == 1
    assert timing_sets(4 * M, 4 * M, 2, MARGIN_BYTES + 100 * M) == 2  # small tasks need little


def test_the_budget_caps_the_sets_even_with_free_memory() -> None:
    # three sets would need (3 + 1) I + 3 O: over 3 (I + O) for any task with I much above the
    # fixed allowance, so asking for more than two gets two
    for in_b, out_b in ((G, G), (4 * G, G // 4), (G // 4, 4 * G)):
        assert timing_sets(in_b, out_b, 3, H200) == 2
        assert timing_sets(in_b, out_b, 5, H200) == 2
    # a task far below the allowance may take a third (it costs a few MiB)
    assert timing_sets(4 * M, 4 * M, 3, H200) == 3
