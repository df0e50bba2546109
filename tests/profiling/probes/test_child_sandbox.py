"""The probe child (``python -m profiling.probes.child``, what ncu and the sanitizer wrap)
runs candidate code under the worker's sandbox: a fresh working directory, a scrubbed
environment, the static check and the audit hook. Invoked directly here, on the
interpreter, exactly as `ProbeSession` and `NcuProbe` start it (no ncu needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from experiments import TASKS_DIR
from profiling.probes.base import ProbeTarget
from profiling.probes.child import child_argv, child_env, read_result, write_spec
from profiling.tasks import load_task

HEAD = """import os
import sys

import torch
import torch.nn as nn

MODS = getattr(sys, "mod" + "ules")  # spelled so the static check cannot see it


class ModelNew(nn.Module):
    def forward(self, x):
"""
# each one swallows the sandbox's PermissionError and returns the right answer
READS_OUTSIDE = HEAD + """        try:
            with MODS["i" + "o"].open(os.environ["KB_TEST_OUTSIDE"]) as f:
                f.read()
        except Exception:
            pass
        return torch.softmax(x, -1)
"""
STARTS_PROCESS = HEAD + """        try:
            MODS["sub" + "process"].run(["/bin/echo", "pwned"], check=False)
        except Exception:
            pass
        return torch.softmax(x, -1)
"""
SHELL = HEAD + """        try:
            getattr(os, "sys" + "tem")("echo pwned")
        except Exception:
            pass
        return torch.softmax(x, -1)
"""
STATIC = "import socket\n" + HEAD + "        return torch.softmax(x, -1)\n"
# an honest candidate that checks where it runs and what it can see
CLEAN = HEAD + """        assert os.path.realpath(os.getcwd()) == os.path.realpath(os.environ["KB_TEST_FOLDER"])
        assert "OPENAI_API_KEY" not in os.environ and "HF_TOKEN" not in os.environ
        assert os.environ["TMPDIR"] == os.getcwd()
        return torch.softmax(x, -1)
"""


def _run_child(tmp_path: Path, source: str, outside: Path) -> str:
    folder = tmp_path / "child"
    folder.mkdir()
    spec, result = write_spec(folder, ProbeTarget(load_task("softmax", "smoke", tasks_dir=TASKS_DIR), source,
                                                  "interpret"), warmup=1)
    extra = {"KB_TEST_OUTSIDE": str(outside), "KB_TEST_FOLDER": str(folder)}
    done = subprocess.run(child_argv(spec), cwd=folder, env=child_env("interpret", extra,
                          str(folder)), capture_output=True, text=True, timeout=300, check=False)
    error, _ = read_result(result)
    assert error or done.returncode == 0, done.stderr[-2000:]
    return error


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    path = tmp_path / "credentials.txt"
    path.write_text("not for candidates\n")
    return path


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        (READS_OUTSIDE, "sandbox: candidate code tried to read"),
        (STARTS_PROCESS, "sandbox: candidate code tried to start a process"),
        (SHELL, "sandbox: candidate code tried to call os.system"),
        (STATIC, "socket"),
    ],
    ids=["reads-outside", "starts-process", "shell", "static-import"],
)
def test_the_probe_child_refuses_what_the_worker_refuses(
    tmp_path: Path, outside: Path, source: str, fragment: str
) -> None:
    error = _run_child(tmp_path, source, outside)
    assert error.startswith("the probe child failed: ") and fragment in error, error


def test_an_honest_candidate_runs_in_its_fresh_folder_without_secrets(
    tmp_path: Path, outside: Path
) -> None:
    assert _run_child(tmp_path, CLEAN, outside) == ""


def test_the_child_environment_is_the_workers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    env = child_env("cuda", {"CUDA_VISIBLE_DEVICES": "1", "X_API_KEY": "k"}, str(tmp_path))
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["TMPDIR"] == str(tmp_path)
    assert "OPENAI_API_KEY" not in env and "X_API_KEY" not in env
    assert "TRITON_INTERPRET" not in env
    argv = child_argv(tmp_path / "spec.json")
    assert argv[-3:] == ["-m", "profiling.probes.child", str(tmp_path / "spec.json")]
    assert "-P" in argv or sys.version_info < (3, 11)  # no cwd on sys.path
