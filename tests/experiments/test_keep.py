"""What a run leaves to keep: best kernel and best candidate, chains, own-size sources,
the summary rendered for a log, report.html and figures that say why they are empty."""

from __future__ import annotations

import ast
import base64
from dataclasses import replace

from bandit import Budget, Tuner, TunerParts, TunerSettings, make_policy
from bandit.arms import Arm
from bandit.budget import Spend
from bandit.frontier import Member
from bandit.records import IterationRecord, TuneResult
from experiments import TASKS_DIR
from experiments.figures import COST_PNG, REWARD_PNG, no_data_reason, write_figures
from experiments.html_report import ReportData, render, write_report
from experiments.keep import (
    BEST_CANDIDATE,
    BEST_KERNEL,
    chain,
    kept_facts,
    outcome,
    own_size_source,
    write_kept,
)
from experiments.summary import family_rows, render_plain, summary_rows
from profiling.tasks import load_task
from strategies.types import Candidate
from tests.bandit.tuner_fakes import (
    REF_SOURCE,
    TASK,
    FakeEvaluator,
    FakeRealizer,
    catalog,
    ok,
)


def fake_run(iterations: int = 6) -> TuneResult:
    tuner = Tuner(
        TASK,
        FakeEvaluator(),
        FakeRealizer(),
        make_policy("ucb", 0),
        catalog(),
        settings=TunerSettings(seed=0),
        parts=TunerParts(reference_source=REF_SOURCE),
    )
    return tuner.run(Budget(iterations=iterations))


def member(cid: str, parent: str | None, strategy: str | None, ms: float, it: int) -> Member:
    return Member(
        Candidate(cid, f"class ModelNew: pass  # {cid}\n", parent, strategy),
        ok(ms),
        0,
        it,
        cid,
    )


def slower_run() -> TuneResult:
    """The reference (10 ms) stays fastest; c2 (12 ms) came from c1 (15 ms)."""
    ref = member("ref", None, None, 10.0, 0)
    c1 = member("c1", "ref", "tiling/rows", 15.0, 1)
    c2 = member("c2", "c1", "vectorization/wide", 12.0, 2)
    rec = IterationRecord(
        1, Arm(0, "tiling", "tiling/rows"), "ref", "c1", "ok", 15.0, 10 / 15, 0.0,
        "ref", 1.0, 10.0, 0, 0, 0.0, 1.0,
    )  # fmt: skip
    rec2 = replace(
        rec, iteration=2, arm=Arm(0, "vectorization", "vectorization/wide"), parent_id="c1",
        candidate_id="c2", runtime_ms=12.0, speedup=10 / 12, reward=0.2, wall_s=2.0,
    )  # fmt: skip
    return TuneResult("iterations 2/2", ref, ref, (rec, rec2), (ref, c1, c2), Spend(2, 0, 0.0, 2.0))


def test_best_candidate_is_named_even_when_the_reference_stays_fastest(tmp_path):
    result = slower_run()
    out = outcome(result)
    assert out.reference_fastest and out.best.is_reference
    assert out.candidate is not None and out.candidate.id == "c2"
    assert out.candidate.chain == ("tiling/rows", "vectorization/wide")
    assert abs(out.candidate.speedup - 10 / 12) < 1e-9
    files = write_kept(out, TASK, tmp_path)
    assert files["candidate"] == tmp_path / BEST_CANDIDATE
    text = (tmp_path / BEST_CANDIDATE).read_text()
    assert "c2 (reference -> tiling/rows -> vectorization/wide)" in text
    assert "# c2" in text  # the candidate's own source follows the header
    facts = dict(kept_facts(out, files))
    assert facts["fastest program"].startswith("the reference")
    assert facts["best candidate"] == "c2: reference -> tiling/rows -> vectorization/wide"
    assert facts["best candidate runtime"] == "12.0000 ms, 0.833x over the reference"
    assert facts["reference runtime"] == "10.0000 ms"
    assert facts["best candidate file"] == str(tmp_path / BEST_CANDIDATE)


def test_a_faster_candidate_is_the_best_kernel_and_the_best_candidate(tmp_path):
    result = fake_run()
    out = outcome(result)
    assert not out.reference_fastest and out.best.id == result.best.id
    assert out.candidate == out.best
    assert len(out.best.chain) >= 1 and out.best.speedup > 1
    assert out.best.chain == chain(result.members, result.best)
    files = write_kept(out, TASK, tmp_path)
    assert files["best"] == files["candidate"] == tmp_path / BEST_KERNEL
    assert not (tmp_path / BEST_CANDIDATE).exists()


def test_best_kernel_is_written_at_the_tasks_own_size(tmp_path):
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    assert task.overrides  # the smoke preset changes module constants
    src = task.module_source()  # a kernel tuned at smoke size carries the smoke constants
    back = own_size_source(src + "\nclass ModelNew(Model):\n    pass\n", task)
    own = load_task("softmax", tasks_dir=TASKS_DIR)
    for name in task.overrides:
        assigned = [
            n.value
            for n in ast.parse(back).body
            if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == name
        ]
        want = [
            n.value
            for n in ast.parse(own.source).body
            if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == name
        ]
        if want:
            assert ast.literal_eval(assigned[0]) == ast.literal_eval(want[0]), name
    ref = member("ref", None, None, 10.0, 0)
    result = TuneResult("iterations 0/0", ref, ref, (), (ref,), Spend())
    write_kept(outcome(result), task, tmp_path)
    text = (tmp_path / BEST_KERNEL).read_text()
    assert "tuned and measured at task size smoke (" in text
    assert "ModelNew = Model" in text
    smoke = ", ".join(f"{k}={v!r}" for k, v in sorted(task.overrides.items()))
    assert smoke in text.splitlines()[2]  # the header says the smoke values...
    body = "\n".join(text.splitlines()[4:])
    assert body.strip() and ast.parse(body)  # ...and the program is the task's own size
    for k, v in task.overrides.items():
        assert f"{k} = {v!r}" not in body


def test_plain_summary_keeps_long_paths_and_numbers_whole():
    result = slower_run()
    out = outcome(result)
    long = "/very/long/" + "nested/" * 30 + "best_kernel.py"
    rows = summary_rows(result, {"task": "fake"}, out, [("best kernel file", long)])
    text = render_plain(rows, family_rows(result))
    assert long in text and "…" not in text and "\x1b" not in text
    assert "wall time" in text and "2.0 s" in text
    fam = [ln for ln in text.splitlines() if ln.strip().startswith("vectorization")]
    assert fam and "0.833x" in fam[0] and "0.200" in fam[0]  # best x ref next to mean reward


def test_report_html_stands_alone(tmp_path):
    result = slower_run()
    out = outcome(result)
    figs = write_figures(result.records, result.by_strategy(), tmp_path / "figures")
    data = ReportData(
        title="kernel-bandit: fake <task>",
        rows=summary_rows(result, {"task": "fake"}, out, kept_facts(out)),
        families=family_rows(result),
        chain=out.candidate.chain,
        source="class ModelNew:\n    x = 1 < 2\n",
        figures=figs,
    )
    path = write_report(data, tmp_path)
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "fake &lt;task&gt;" in page
    assert "<li>tiling/rows</li>" in page and "<li>vectorization/wide</li>" in page
    assert "x = 1 &lt; 2" in page
    assert page.count("data:image/png;base64,") == 2
    assert 'src="figures/' not in page and "http" not in page  # nothing to fetch
    b64 = page.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(b64).startswith(b"\x89PNG")
    assert "0.833x" in render(data)


def test_figures_without_data_say_why(tmp_path):
    result = slower_run()  # zero tokens: the offline realizer's case
    why = no_data_reason(result.records, result.by_strategy())
    assert set(why) == {COST_PNG} and "no tokens" in why[COST_PNG]
    paths = write_figures(result.records, result.by_strategy(), tmp_path)
    assert [p.name for p in paths] == [REWARD_PNG, COST_PNG]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert set(no_data_reason((), {})) == {REWARD_PNG, COST_PNG}
    with_tokens = FakeRealizer(tokens=(100, 40), usd=0.01)
    tuner = Tuner(
        TASK, FakeEvaluator(), with_tokens, make_policy("ucb", 0), catalog(),
        settings=TunerSettings(seed=0),
        parts=TunerParts(reference_source=REF_SOURCE),
    )  # fmt: skip
    spent = tuner.run(Budget(iterations=3))
    assert no_data_reason(spent.records, spent.by_strategy()) == {}
