"""Facts about the GPU a run targets (queried and measured by the worker)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuFacts:
    """Facts about the target GPU quoted in prompts and used for pruning."""

    name: str = "unknown"
    sm_count: int = 0
    l2_bytes: int = 0
    smem_per_block_bytes: int = 0
    dram_gbps: float = 0.0  # measured copy bandwidth, GB/s
    peak_tflops: float = 0.0  # measured bf16 matmul peak
    compute_capability: str = ""
