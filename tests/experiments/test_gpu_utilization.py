"""The GPU utilization sampler: a background reader over a stretch of work."""

from __future__ import annotations

import time

from experiments.gpu_utilization import UtilizationSampler, parse_smi


def test_parse_smi_keeps_the_gpus_asked_for_and_skips_unreadable_values():
    text = "0, 87\n1, 3\n2, [N/A]\n"
    assert parse_smi(text, ["0", "2"]) == {"0": 87.0}
    assert parse_smi(text, ["1"]) == {"1": 3.0}


def test_sampler_reports_mean_and_idle_share_per_gpu():
    values = iter([{"0": 100.0, "1": 0.0}, {"0": 50.0, "1": 0.0}, {"0": 0.0, "1": 80.0}])

    def reader(gpus):
        try:
            return next(values)
        except StopIteration:
            time.sleep(0.01)
            return {}

    with UtilizationSampler(["0", "1"], interval_s=0.001, reader=reader) as s:
        deadline = time.monotonic() + 5
        while sum(len(v) for v in s.samples.values()) < 6 and time.monotonic() < deadline:
            time.sleep(0.005)
    rows = {r.gpu: r for r in s.summary()}
    assert rows["0"].samples == 3 and rows["0"].mean_pct == 50.0
    assert round(rows["0"].idle_pct) == 33 and round(rows["1"].idle_pct) == 67
    assert s.describe() == "gpu0 50% (idle 33%), gpu1 27% (idle 67%)"


def test_no_reader_or_a_failing_reader_says_so_and_never_raises():
    with UtilizationSampler(["0"], reader=None) as s:
        s.reader = None
    assert s.describe() == "unavailable"

    def broken(gpus):
        raise RuntimeError("NVML gone")

    with UtilizationSampler(["0"], interval_s=0.001, reader=broken) as s:
        time.sleep(0.05)
    assert s.describe() == "unavailable (RuntimeError: NVML gone)"
    assert UtilizationSampler([]).describe() == "unavailable"
