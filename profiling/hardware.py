"""Facts about the GPU a run targets (queried and measured by the worker).

`measure_gpu_facts` runs inside the evaluation worker, once per GPU model: it
reads the device properties and measures device-to-device copy bandwidth
(counting bytes read and written) and large-matmul throughput: bf16, fp32 with
TF32 allowed, and IEEE fp32 (TF32 off). The result is cached as JSON under
``~/.cache/kernel-bandit/`` (``$XDG_CACHE_HOME`` respected), keyed by GPU name.
An entry written before a fact was measured loads with that fact at 0.0
(unmeasured); `gpu_facts` then measures what is missing and saves it back. This
module imports torch only inside the functions that need it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from profiling.measurement import DEFAULT_HOLD_US

INTERPRETER_NAME = "cpu-interpreter"
_CACHE_VERSION = 1


@dataclass(frozen=True)
class GpuFacts:
    """Facts about the target GPU, quoted in prompts and used for the roofline floor."""

    name: str = "unknown"
    sm_count: int = 0
    l2_bytes: int = 0
    smem_per_block_bytes: int = 0
    dram_gbps: float = 0.0  # measured copy bandwidth, GB/s
    peak_tflops: float = 0.0  # measured bf16 matmul peak
    compute_capability: str = ""
    peak_tflops_tf32: float = 0.0  # measured fp32 matmul peak with TF32 allowed
    peak_tflops_fp32: float = 0.0  # measured IEEE fp32 matmul peak (TF32 off); 0: unmeasured

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GpuFacts:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kernel-bandit" / "gpu_facts.json"


def load_cached_facts(name: str, path: Path | None = None) -> GpuFacts | None:
    path = path or cache_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    entry = data.get(name) if isinstance(data, dict) else None
    if not isinstance(entry, dict) or entry.get("_version") != _CACHE_VERSION:
        return None
    return GpuFacts.from_dict(entry)


def save_cached_facts(facts: GpuFacts, path: Path | None = None) -> None:
    path = path or cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[facts.name] = {**facts.to_dict(), "_version": _CACHE_VERSION}
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(path)
    except OSError:
        pass  # a read-only home is not an error: the facts are just measured again


def gpu_facts(device_index: int = 0, use_cache: bool = True) -> GpuFacts:
    """Facts for a CUDA device: from the cache, else measured (about a second) and cached."""
    import torch

    name = torch.cuda.get_device_name(device_index)
    if use_cache:
        cached = load_cached_facts(name)
        if cached is not None:
            return _completed(cached, device_index)
    facts = measure_gpu_facts(device_index)
    if use_cache and facts.dram_gbps > 0 and facts.peak_tflops > 0:  # never cache a failed probe
        save_cached_facts(facts)
    return facts


def _completed(cached: GpuFacts, device_index: int) -> GpuFacts:
    """A cached entry from an older version, with the facts it lacks measured and saved
    (today: the IEEE fp32 matmul peak); unchanged when nothing is missing."""
    if cached.peak_tflops_fp32 > 0:
        return cached
    import torch

    dev = torch.device("cuda", device_index)
    fp32 = _safely(lambda: _matmul_tflops(dev, torch.float32, tf32=False))
    torch.cuda.empty_cache()
    if fp32 <= 0:
        return cached  # still unmeasured: the floor falls back (see profiling.roofline)
    facts = replace(cached, peak_tflops_fp32=fp32)
    save_cached_facts(facts)
    return facts


def device_properties(device_index: int = 0) -> GpuFacts:
    """What a CUDA device reports about itself, nothing measured (the one place that
    reads torch's device properties). Older torch builds lack some fields: 0 then."""
    import torch

    props = torch.cuda.get_device_properties(device_index)
    smem = int(
        getattr(props, "shared_memory_per_block_optin", 0)
        or getattr(props, "shared_memory_per_block", 0)
    )
    return GpuFacts(
        name=props.name,
        sm_count=int(props.multi_processor_count),
        l2_bytes=int(getattr(props, "L2_cache_size", 0)),
        smem_per_block_bytes=smem,
        compute_capability=f"{props.major}.{props.minor}",
    )


def local_gpu_facts() -> GpuFacts:
    """`device_properties` of the first local GPU; unknown facts without one (or a broken driver)."""
    try:
        import torch

        return device_properties(0) if torch.cuda.is_available() else GpuFacts()
    except Exception:  # a broken driver must not stop prompt building
        return GpuFacts()


def measure_gpu_facts(device_index: int = 0) -> GpuFacts:
    """`device_properties` plus measured copy bandwidth and matmul peaks."""
    import torch

    dev = torch.device("cuda", device_index)
    facts = replace(
        device_properties(device_index),
        dram_gbps=_safely(lambda: copy_bandwidth_gbps(dev)),
        peak_tflops=_safely(lambda: _matmul_tflops(dev, torch.bfloat16)),
        peak_tflops_tf32=_safely(lambda: _matmul_tflops(dev, torch.float32)),
        peak_tflops_fp32=_safely(lambda: _matmul_tflops(dev, torch.float32, tf32=False)),
    )
    torch.cuda.empty_cache()  # the probes' buffers go back to the driver
    return facts


def _safely(measure: Any) -> float:
    """A measurement, or 0.0 (unknown: no floor from it) when the GPU cannot run it (e.g. OOM)."""
    import torch

    try:
        return float(measure())
    except (RuntimeError, torch.cuda.OutOfMemoryError):
        torch.cuda.empty_cache()
        return 0.0


def _time_ms(fn: Any, reps: int, warmup: int = 3) -> list[float]:
    import torch

    for _ in range(warmup):
        fn()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for s, e in zip(starts, ends, strict=True):
        s.record()
        fn()
        e.record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)]


def copy_bandwidth_gbps(dev: Any, nbytes: int = 1 << 30) -> float:
    """Device-to-device copy bandwidth (bytes read plus written) of the fastest of ten
    copies of ``nbytes``: the roofline floor's memory rate."""
    import torch

    src = torch.empty(nbytes, dtype=torch.uint8, device=dev).fill_(1)
    dst = torch.empty_like(src)
    times = _time_ms(lambda: dst.copy_(src), reps=10)
    best = min(times)
    return 2 * nbytes / (best * 1e-3) / 1e9  # read + write


def _matmul_tflops(dev: Any, dtype: Any, n: int = 8192, tf32: bool = True) -> float:
    """``torch.mm`` throughput at n x n x n; fp32 with TF32 allowed or (``tf32=False``) as
    IEEE fp32, the flags restored afterwards."""
    import torch

    old = torch.backends.cuda.matmul.allow_tf32
    old_precision = torch.get_float32_matmul_precision()
    torch.backends.cuda.matmul.allow_tf32 = tf32
    if not tf32:
        torch.set_float32_matmul_precision("highest")
    try:
        g = torch.Generator(device=dev).manual_seed(0)
        a = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
        b = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
        times = _time_ms(lambda: torch.mm(a, b), reps=10)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
        if torch.get_float32_matmul_precision() != old_precision:
            torch.set_float32_matmul_precision(old_precision)
    times.sort()
    best = times[len(times) // 4]  # a low quantile: the peak, robust to one fast outlier
    return 2 * n**3 / (best * 1e-3) / 1e12


def copy_ms(
    nbytes: int, device_index: int = 0, hold_us: float = DEFAULT_HOLD_US, warmup_ms: float = 5.0,
    rep_ms: float = 20.0,
) -> float:
    """Median time of a device-to-device copy that moves ``nbytes`` (half read, half
    written), timed as the evaluator times a kernel (`profiling.timing`: CUDA events, the L2
    flushed and ``hold_us`` of device work queued before each call). The copy bandwidth the
    floor uses is measured at 1 GiB, where a launch's fixed costs have vanished; this is the
    same copy at a kernel's own byte count (`experiments.copy_floor`)."""
    import torch

    from profiling import timing

    dev = torch.device("cuda", device_index)
    with torch.cuda.device(dev):
        src = torch.ones(max(1, nbytes // 2), dtype=torch.uint8, device=dev)
        dst = torch.empty_like(src)
        flush: Any = timing.L2Flusher(device_properties(device_index).l2_bytes, dev)
        if hold_us > 0:
            flush = timing.hold_after(flush, timing.GpuHold(), hold_us)
        c = timing.Contender("copy", lambda: dst.copy_(src), [])
        cfg = timing.TimingConfig(warmup_ms=warmup_ms, rep_ms=rep_ms)
        ms = timing.time_interleaved([c], [[]], timing.CudaClock(), flush, cfg)["copy"].median_ms
    src = dst = flush = c = None  # the buffers go back to the driver
    torch.cuda.empty_cache()
    return ms
