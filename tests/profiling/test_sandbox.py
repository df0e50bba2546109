"""The worker's audit-hook sandbox, exercised in a child process (hooks cannot be removed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CANDIDATE = """
import os, subprocess
def attempt(kind, path):
    try:
        if kind == "open":
            open(path, "w").close()
        elif kind == "read":
            open(path).close()
        elif kind == "os.open":
            os.close(os.open(path, os.O_RDWR))
        elif kind == "spawn":
            subprocess.run([path, "--version"], capture_output=True, check=False)
        return "allowed"
    except PermissionError:
        return "refused"
    except OSError:  # let through by the sandbox, then missing on this machine
        return "allowed"
"""

CHILD = """
import json, os, sys
from profiling import sandbox
scratch, cand_dir, src = sys.argv[1], sys.argv[2], sys.argv[4]
sys.path.append(sys.argv[5])
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
    scratch, cand, lib = tmp_path / "scratch", tmp_path / "cand", tmp_path / "lib"
    scratch.mkdir()
    cand.mkdir()
    (lib / "pkg-1.0.dist-info").mkdir(parents=True)
    (lib / "pkg-1.0.dist-info" / "entry_points.txt").write_text("")
    (lib / "notes.txt").write_text("")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(scratch), str(cand), json.dumps(cases), CANDIDATE, str(lib)],
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


def test_metadata_and_inspection_tools_pass_but_other_reads_and_processes_do_not(tmp_path):
    lib = tmp_path / "lib"
    meta = lib / "pkg-1.0.dist-info" / "entry_points.txt"
    out = _run(
        tmp_path,
        [
            ("read", str(meta)),  # importlib.metadata looking up plugins
            ("open", str(meta)),
            ("read", str(lib / "notes.txt")),  # a sys.path folder, but no module file
            ("spawn", "file"),  # platform.architecture()
            ("spawn", "curl"),
        ],
    )
    assert out[f"read {meta}"] == "allowed"
    assert out[f"open {meta}"] == "refused"
    assert out[f"read {lib / 'notes.txt'}"] == "refused"
    assert out["spawn file"] == "allowed"
    assert out["spawn curl"] == "refused"
