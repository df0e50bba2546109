"""python -m strategies.realize: run as a subprocess (its listing and one-line errors), and
its realizations through the same `main` in this process (a fresh interpreter would spend
most of their time importing torch and triton)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from strategies.realize import main
from tests.fakes.chat_server import FakeChatServer, Reply
from tests.strategies.conftest import GOOD_SOURCE

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strategies.realize", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )


def realize(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_prints_the_catalog_table():
    out = cli("--list")
    assert out.returncode == 0, out.stderr
    for text in ("strategy catalog (26 strategies)", "resource", "applies to", "target",
                 "description", "tiling/grouped_order", "vectorization/cuda_vec4", "cuda", "math/fast_math"):
        assert text in out.stdout


def test_list_for_a_task_kind():
    out = cli("--list", "--task", "softmax")
    assert out.returncode == 0 and "for softmax" in out.stdout
    assert "tiling/rows_per_program" in out.stdout and "tiling/split_k" not in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--task", "softmax", "--strategy", "tiling/nope"), "unknown strategy 'tiling/nope'"),
        (("--task", "no_such_task", "--strategy", "tiling/split_k"), "unknown task 'no_such_task'"),
        (("--task", "softmax", "--strategy", "tiling/split_k"), "does not apply to task kind 'softmax'"),
        (("--task", "softmax"), "give --task and --strategy"),
        (("--task", "softmax", "--size", "huge", "--strategy", "tiling/rows_per_program"),
         "unknown size preset 'huge'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args, message):
    out = cli(*args)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and message in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_openai_realizer_against_the_fake_server(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "")
    target = tmp_path / "candidate.py"
    with FakeChatServer([Reply.code(GOOD_SOURCE, prompt_tokens=1000, completion_tokens=100)]) as server:
        code, _out, err = realize(
            capsys, "--task", "softmax", "--size", "smoke", "--strategy", "tiling/rows_per_program",
            "--realizer", "openai", "--base-url", server.url, "--model", "cli-model",
            "--cache", "off", "--out", str(target))  # fmt: skip
    assert code == 0, err
    assert target.read_text() == GOOD_SOURCE
    assert "1000 prompt + 100 completion tokens" in err
    assert server.requests[0].body["model"] == "cli-model"
    assert "rows per program" in server.requests[0].text().lower()


def test_openai_fatal_error_exits_2(tmp_path, capsys):
    with FakeChatServer([Reply.error(401, "Incorrect API key provided")]) as server:
        code, _out, err = realize(
            capsys, "--task", "softmax", "--strategy", "tiling/rows_per_program", "--realizer",
            "openai", "--base-url", server.url, "--model", "m", "--cache", "off")  # fmt: skip
    assert code == 2 and "401" in err and "Traceback" not in err


def test_openai_reply_without_code_exits_1(tmp_path, capsys):
    with FakeChatServer([Reply.text("no idea")]) as server:
        code, _out, err = realize(
            capsys, "--task", "softmax", "--strategy", "tiling/rows_per_program", "--realizer",
            "openai", "--base-url", server.url, "--model", "m", "--cache", "off")  # fmt: skip
    assert code == 1 and "no candidate: reply has no fenced" in err


def test_offline_realize_writes_a_candidate(tmp_path, capsys):
    first = tmp_path / "first.py"
    code, _out, err = realize(capsys, "--task", "softmax", "--size", "smoke", "--strategy",
                              "tiling/rows_per_program", "--out", str(first))  # fmt: skip
    assert code == 0, err
    source = first.read_text()
    assert "class ModelNew" in source and source.startswith("# kernel-bandit-params: ")
    # the written file is a parent again: its header carries the parameters
    code, out, err = realize(capsys, "--task", "softmax", "--size", "smoke", "--strategy",
                             "tiling/rows_per_program", "--parent", str(first))  # fmt: skip
    assert code == 0, err
    assert out != source and "class ModelNew" in out


def test_tasks_dir_names_another_task_folder(tmp_path):
    (tmp_path / "my_softmax.py").write_text((ROOT / "experiments" / "tasks" / "softmax.py").read_text())
    out = cli("--list", "--task", "my_softmax", "--tasks-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "for softmax" in out.stdout  # KIND comes from the file, not its name
    out = cli("--list", "--task", "softmax", "--tasks-dir", str(tmp_path))
    assert out.returncode == 2 and "unknown task 'softmax' (bundled tasks: my_softmax)" in out.stderr
