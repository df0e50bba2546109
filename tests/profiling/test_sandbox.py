"""The worker's audit-hook sandbox, exercised in a child process (hooks cannot be removed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CANDIDATE = """
import os
def attempt(kind, path):
    try:
        if kind == "open":
            open(path, "w").close()
        elif kind == "os.open":
            os.close(os.open(path, os.O_RDWR))
        return "allowed"
    except PermissionError:
        return "refused"
"""

CHILD = """
import json, os, sys
from profiling import sandbox
scratch, cand_dir, src = sys.argv[1], sys.argv[2], sys.argv[4]
sandbox.install(scratch)
sandbox.set_candidate_dir(cand_dir)
path = os.path.join(cand_dir, sandbox.CANDIDATE_MARK + "probe.py")
with open(path, "w") as f:
    f.write(src)
ns = {}
exec(compile(src, path, "exec"), ns)
out = {f"{k} {p}": ns["attempt"](k, p) for k, p in json.loads(sys.argv[3])}
out["violations"] = sandbox.take_violations()
print(json.dumps(out))
"""


def _run(tmp_path: Path, cases: list[tuple[str, str]]) -> dict:
    scratch, cand = tmp_path / "scratch", tmp_path / "cand"
    scratch.mkdir()
    cand.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(scratch), str(cand), json.dumps(cases), CANDIDATE],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_null_device_is_writable_but_other_devices_and_system_files_are_not(tmp_path):
    cand = tmp_path / "cand"
    out = _run(
        tmp_path,
        [
            ("open", "/dev/null"),  # subprocess.DEVNULL, as Triton's ptxas calls use it
            ("os.open", "/dev/null"),
            ("open", str(cand / "own.txt")),
            ("open", "/etc/kb_sandbox_probe"),
            ("open", "/dev/kb_sandbox_probe"),
        ],
    )
    assert out["open /dev/null"] == "allowed"
    assert out["os.open /dev/null"] == "allowed"
    assert out[f"open {cand / 'own.txt'}"] == "allowed"
    assert out["open /etc/kb_sandbox_probe"] == "refused"
    assert out["open /dev/kb_sandbox_probe"] == "refused"
    assert len(out["violations"]) == 2
    assert all("sandbox: candidate code tried to write" in v for v in out["violations"])
