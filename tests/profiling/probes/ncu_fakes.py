"""A fake ``ncu`` executable (a real peer of the probe: it gets the exact command
line) and a writer of ``--csv --page raw`` reports in Nsight Compute's layout."""

from __future__ import annotations

import csv
import io
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from profiling.probes.ncu_csv import all_metrics

PREFIX = ["ID", "Process ID", "Process Name", "Host Name", "Kernel Name", "Context", "Stream",
          "Block Size", "Grid Size", "Device", "CC"]
UNITS = {
    "gpu__time_duration.sum": "nsecond",
    "dram__bytes_read.sum": "byte",
    "dram__bytes_write.sum": "byte",
    "launch__registers_per_thread": "register/thread",
    "launch__shared_mem_per_block_static": "byte/block",
    "launch__shared_mem_per_block_dynamic": "byte/block",
    "launch__block_size": "",
    "launch__grid_size": "",
    "l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum": "byte",
    "l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum": "byte",
}


def raw_csv(
    rows: Sequence[tuple[str, Mapping[str, float | str]]],
    units: Mapping[str, str] | None = None,
    metrics: Sequence[str] | None = None,
) -> str:
    """A report with one row per (kernel name, {metric: value}); absent metrics read n/a."""
    metrics = list(metrics or all_metrics())
    unit = {**UNITS, **(units or {})}
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(PREFIX + metrics)
    w.writerow([""] * len(PREFIX) + [unit.get(m, "%") for m in metrics])
    for i, (name, values) in enumerate(rows):
        w.writerow([str(i), "4242", "python", "127.0.0.1", name, "1", "7", "(256, 1, 1)",
                    "(1024, 1, 1)", "0", "9.0"]
                   + [str(values.get(m, "n/a")) for m in metrics])
    return buf.getvalue()


FAKE_NCU = '''#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_NCU_ARGV"], "a") as f:
    f.write(json.dumps(args) + "\\n")
if os.environ.get("FAKE_NCU_ENV"):
    with open(os.environ["FAKE_NCU_ENV"], "a") as f:
        f.write(os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>") + "\\n")
log = args[args.index("--log-file") + 1]
metrics = args[args.index("--metrics") + 1].split(",")
spec = json.load(open(args[-1]))
mode = os.environ.get("FAKE_NCU_MODE", "ok")
print("==PROF== Connected to process 4242")
if mode == "denied":
    open(log, "w").write("==ERROR== ERR_NVGPUCTRPERM - The user does not have permission "
                         "to access NVIDIA GPU Performance Counters on the target device 0.\\n")
    sys.exit(1)
if mode == "unknown" and "bogus__metric.sum" in metrics:
    open(log, "w").write("==ERROR== Failed to find metric bogus__metric.sum\\n")
    sys.exit(1)
if mode == "hang":
    import time; time.sleep(30)
if mode == "child_fail":
    open(spec["result"], "w").write(json.dumps({{"ok": False, "error": "RuntimeError: boom"}}))
    open(log, "w").write("==PROF== Disconnected from process 4242\\n==WARNING== No kernels were profiled.\\n")
    sys.exit(0)
open(spec["result"], "w").write(json.dumps({{"ok": True}}))
text = open(os.environ["FAKE_NCU_CSV"]).read()
open(log, "w").write("==PROF== Profiling \\"kernel\\": 0%....50%....100% - 9 passes\\n" + text)
'''


def install_fake_ncu(folder: Path) -> Path:
    path = folder / "ncu"
    path.write_text(FAKE_NCU.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def env_with(folder: Path) -> str:
    return str(folder) + os.pathsep + os.environ.get("PATH", "")
