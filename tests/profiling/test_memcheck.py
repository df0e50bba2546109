"""Parsing compute-sanitizer memcheck reports.

The samples below are HAND-WRITTEN in the layout NVIDIA's Compute Sanitizer manual
shows for memcheck (prefix, error title, ``at``/``by thread``/``Address``/``and is``
lines, host backtrace, ``ERROR SUMMARY``); they were not recorded on a GPU. A run
on the GPU host (see the report of issue 11) should replace them with recorded text.
"""

from __future__ import annotations

from profiling.memcheck import parse

# hand-written: an unmasked Triton ReLU reading past its input at an odd size
OOB_READ = """========= COMPUTE-SANITIZER
========= Invalid __global__ read of size 16 bytes
=========     at _relu+0x170 in /tmp/kb-sanitize-1/src/kb_candidate_0f3a.py:11
=========     by thread (96,0,0) in block (4,0,0)
=========     Address 0x7f3c5e000a10 is out of bounds
=========     and is 8 bytes after the nearest allocation at 0x7f3c5e000000 of size 2,568 bytes
=========     Saved host backtrace up to driver entry point at kernel launch time
=========         Host Frame: [0x2f1e5b] in libcuda.so.1
=========         Host Frame: _launch in launcher.c:120 [0x1c4d] in __triton_launcher.so
=========
========= Invalid __global__ read of size 16 bytes
=========     at _relu+0x170 in /tmp/kb-sanitize-1/src/kb_candidate_0f3a.py:11
=========     by thread (97,0,0) in block (4,0,0)
=========     Address 0x7f3c5e000a20 is out of bounds
=========     and is 24 bytes after the nearest allocation at 0x7f3c5e000000 of size 2,568 bytes
=========
========= ERROR SUMMARY: 62 errors (20 printed)
"""
# hand-written: a store past the output
OOB_WRITE = """========= COMPUTE-SANITIZER
========= Invalid __global__ write of size 4 bytes
=========     at out_of_bounds_kernel()+0x60 in memcheck_demo.cu:11
=========     by thread (0,0,0) in block (0,0,0)
=========     Address 0x7f671ac00100 is out of bounds
=========     and is 252 bytes after the nearest allocation at 0x7f671ac00000 of size 4 bytes
=========
========= ERROR SUMMARY: 1 error
"""
# hand-written: a misaligned access (not past an allocation, still a memory error)
MISALIGNED = """========= Invalid __global__ write of size 4 bytes
=========     at unaligned_kernel()+0x70 in memcheck_demo.cu:6
=========     by thread (0,0,0) in block (0,0,0)
=========     Address 0x7f671ac00001 is misaligned
=========     and is inside the nearest allocation at 0x7f671ac00000 of size 4 bytes
=========
========= ERROR SUMMARY: 1 error
"""
SHARED = """========= Out-of-range Shared or Local Address
=========     at k+0x90 in k.py:3
=========     by thread (1,0,0) in block (0,0,0)
=========
========= ERROR SUMMARY: 1 error
"""
# hand-written: a clean run (Python's own stderr lines mixed in, without the prefix)
CLEAN = """========= COMPUTE-SANITIZER
/usr/lib/python3.12/site-packages/torch/cuda/__init__.py:61: UserWarning: something benign
========= ERROR SUMMARY: 0 errors
"""


def test_an_out_of_bounds_read_is_parsed_with_kernel_size_and_where() -> None:
    r = parse(OOB_READ)
    assert r.total == 62 and len(r.errors) == 2 and not r.clean and r.complete
    e = r.errors[0]
    assert (e.kind, e.space, e.size, e.kernel) == ("read", "global", 16, "_relu")
    assert e.out_of_bounds and e.address == "is out of bounds"
    assert e.where.startswith("8 bytes after the nearest allocation")
    reason = r.reason()
    assert reason is not None and reason.startswith("out-of-bounds memory access")
    assert "invalid __global__ read of size 16 in _relu" in reason
    assert "8 bytes after an allocation of 2,568 bytes" in reason and "62 errors in all" in reason
    assert "\n" not in reason


def test_an_out_of_bounds_write_is_parsed() -> None:
    r = parse(OOB_WRITE)
    (e,) = r.errors
    assert (e.kind, e.size, e.kernel) == ("write", 4, "out_of_bounds_kernel()")
    assert e.out_of_bounds and r.total == 1
    assert r.reason() == ("out-of-bounds memory access (compute-sanitizer memcheck): invalid "
                          "__global__ write of size 4 in out_of_bounds_kernel() (252 bytes after "
                          "an allocation of 4 bytes)")


def test_other_device_memory_errors_count_too() -> None:
    m = parse(MISALIGNED)
    assert not m.errors[0].out_of_bounds
    assert (m.reason() or "").startswith("invalid memory access (compute-sanitizer memcheck)")
    s = parse(SHARED)
    assert s.errors[0].kind == "Out-of-range Shared or Local Address" and s.errors[0].out_of_bounds
    assert s.errors[0].kernel == "k"


def test_a_clean_run_and_a_cut_short_run() -> None:
    r = parse(CLEAN)
    assert r.clean and r.complete and r.reason() is None
    cut = parse(OOB_WRITE.split("========= ERROR SUMMARY")[0])
    assert not cut.complete and len(cut.errors) == 1 and cut.reason() is not None
    assert not parse("").complete and parse("").reason() is None
