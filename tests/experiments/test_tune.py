"""The tune app: config composition, user errors, and end-to-end runs through the real
evaluator (Triton interpreter), realizers and MLflow."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from rich.console import Console

from experiments import TASKS_DIR
from experiments.settings import TuneSettings
from experiments.tune import run_app

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"


def compose_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def app(run_dir: Path, *overrides: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_app(
        compose_cfg(*overrides),
        run_dir=run_dir,
        out=Console(file=out, width=160),
        err=Console(file=err, width=400),
    )
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def smoke(store: str, *more: str) -> list[str]:
    return [
        "device=interpret",
        "task.size=smoke",
        "budget.iterations=4",
        f"tracking.uri={store}",
        *more,
    ]


# -- configuration ------------------------------------------------------------------------


def test_defaults():
    s = TuneSettings.from_plain(_plain(compose_cfg()))
    assert (s.task.name, s.task.size, s.policy.name, s.realizer.name) == (
        "softmax",
        None,
        "hucb",
        "offline",
    )
    assert (s.budget.iterations, s.budget.tokens, s.budget.usd, s.budget.seconds) == (
        40,
        None,
        None,
        None,
    )
    assert (s.device.name, s.executor.name, s.seed) == ("auto", "local", 0)
    assert s.tracking.enabled and s.tracking.uri == f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    assert s.tracking.experiment == "kernel-bandit" and s.resume is None
    assert s.device.evaluation.trials == 5 and s.realizer.repair_turns == 0


def test_documented_overrides_compose(tmp_path):
    cfg = compose_cfg(
        "task=layernorm",
        "policy=ucb",
        "budget.iterations=40",
        "seed=3",
        "device=interpret",
        f"tracking.uri=sqlite:///{tmp_path}/x.db",
        "task.size=smoke",
    )
    s = TuneSettings.from_plain(_plain(cfg))
    assert (s.task.name, s.task.size, s.policy.name, s.seed) == ("layernorm", "smoke", "ucb", 3)
    assert s.device.name == "interpret" and not s.device.evaluation.baseline_compile
    assert s.tracking.uri == f"sqlite:///{tmp_path}/x.db"
    assert "c" in s.policy.options
    off = TuneSettings.from_plain(_plain(compose_cfg("tracking=none", "budget=smoke")))
    assert not off.tracking.enabled and off.budget.iterations == 4
    llm = TuneSettings.from_plain(_plain(compose_cfg("realizer=openai")))
    assert llm.realizer.repair_turns == 1 and llm.realizer.model


def _plain(cfg):
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)


# a KernelBench file with nothing to generate offline (a lone convolution)
LONE_CONV = Path(__file__).parents[1] / "strategies" / "kernelbench" / "45_lone_conv.py"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task.name=no_such_task"], "unknown task 'no_such_task'"),
        (["task.size=huge"], "unknown size preset 'huge'"),
        (["budget.iterations=-3"], "budget iterations must be a positive number"),
        (["budget.iterations=null"], "a budget needs at least one limit"),
        (["policy.name=nope"], "unknown policy 'nope'"),
        (["policy.c=-1"], "policy 'hucb'"),
        (["reward.kind=bogus"], "unknown reward kind 'bogus'"),
        (["device.name=tpu"], "device.name must be one of"),
        (["device.sanitize=sometimes"], "sanitize must be one of best, always, off, got 'sometimes'"),
        (["realizer=openai", "realizer.cache=bogus"], "bad openai realizer config"),
        ([f"task.name={LONE_CONV}"], "nothing to generate"),
        (["+device.warmup=10"], "unknown key(s) in device: warmup"),
        (["device.trials=many"], "device.trials must be a whole number"),
        (["+executor.threads=2"], "unknown key(s) in executor: threads"),
        (["executor.batch=0"], "executor.batch must be >= 1"),
        (["device=replay", "task=layernorm", "replay.landscape=/nonexistent.jsonl"],
         "no landscape file at /nonexistent.jsonl (record one on a GPU"),
        (["+budget.minutes=3"], "unknown key(s) in budget: minutes"),
        (["+reward.scale=2"], "unknown key(s) in reward: scale"),
        (["+realizer.model=x"], "the offline realizer takes no options (got model)"),
        (["realizer=openai", "+realizer.modle=x"], "unknown openai realizer option(s): modle"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path, overrides, message):
    code, _out, err = app(tmp_path / "run", "tracking=none", "device=interpret", *overrides)
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run" / "runlog.jsonl").exists()


def test_a_run_directory_that_holds_a_run_is_never_overwritten(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "runlog.jsonl").write_text('{"type": "header"}\n')
    (run / "config.yaml").write_text("seed: 7\n")
    code, _out, err = app(run, "tracking=none", "device=interpret")
    assert code == 2 and f"{run} already holds a run: continue it with resume={run}" in err
    assert (run / "config.yaml").read_text() == "seed: 7\n"


def test_cli_user_error_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.tune", "task.name=nope", "tracking=none",
         f"hydra.run.dir={tmp_path}/run"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown task 'nope'")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # no empty run folder left behind


# -- end to end --------------------------------------------------------------------------


def _mlflow_run(store: str, run_dir: Path):
    import mlflow

    run_id = json.loads((run_dir / "mlflow_run.json").read_text())["run_id"]
    client = mlflow.MlflowClient(tracking_uri=store)
    return client, client.get_run(run_id)


@pytest.mark.parametrize(("task", "policy"), [("softmax", "hucb"), ("layernorm", "ucb")])
def test_end_to_end_offline(tmp_path, store, task, policy):
    run_dir = tmp_path / "run"
    code, out, err = app(run_dir, *smoke(store, f"task={task}", f"policy={policy}"))
    assert code == 0, err
    for line in ("speedup over eager", "stop reason", "iterations 4/4", "best kernel file"):
        assert line in out
    for name in ("runlog.jsonl", "best_kernel.py", "candidates.jsonl", "config.yaml"):
        assert (run_dir / name).is_file(), name
    assert "ModelNew" in (run_dir / "best_kernel.py").read_text()
    # something to keep: the best correct candidate is named with its chain and file
    facts = dict(
        line.strip().split("  ", 1)
        for line in out.splitlines()
        if line.startswith("  ") and "  " in line.strip()
    )
    assert (
        facts["best candidate"].strip().startswith("c")
        and "reference -> " in facts["best candidate"]
    )
    kept = Path(facts["best candidate file"].strip())
    assert kept.is_file() and kept.parent == run_dir
    assert str(run_dir / "best_kernel.py") in out  # whole paths in a piped summary
    page = (run_dir / "report.html").read_text()
    assert "data:image/png;base64," in page and "Strategy chain" in page

    client, run = _mlflow_run(store, run_dir)
    assert run.info.run_id in out
    assert run.info.status == "FINISHED"
    assert run.data.tags["task"] == task and run.data.tags["policy"] == policy
    assert run.data.tags["realizer"] == "offline" and run.data.tags["realizer_model"] == "offline"
    assert {"gpu", "git_revision", "device"} <= set(run.data.tags)
    assert run.data.params["task.name"] == task and run.data.params["task.size"] == "smoke"
    assert run.data.params["budget.iterations"] == "4" and run.data.params["seed"] == "0"
    for key in ("reward", "best_speedup", "best_runtime_ms", "tokens_prompt", "cost_usd"):
        assert len(client.get_metric_history(run.info.run_id, "headline/" + key)) == 4, key
    pulls = {
        k: v
        for k, v in run.data.metrics.items()
        if k.startswith("per_strategy/") and k.endswith("/pulls")
    }
    assert sum(pulls.values()) == 4
    assert any(k.startswith("per_family/") and k.endswith("/mean_reward") for k in run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    want = {"best_kernel.py", "candidates.jsonl", "config.yaml", "runlog.jsonl", "report.html"}
    assert want | {"figures"} <= artifacts
    assert run.info.run_name == f"{task}-{policy}-s0-{tmp_path.name}_run"
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    rows = [json.loads(x) for x in (run_dir / "candidates.jsonl").read_text().splitlines()]
    assert rows[0]["id"] == "ref" and rows[0]["status"] == "ok"
    assert all({"source", "status", "measurement", "cost"} <= set(r) for r in rows)


def test_any_kernelbench_file_tunes_offline(tmp_path):
    """A KernelBench file no bundled generator knows: the graph templates realize it."""
    relu = Path(__file__).parent / "data" / "relu_problem.py"
    run_dir = tmp_path / "run"
    code, _, err = app(run_dir, f"task.name={relu}", "task.size='dim=64'", "device=interpret",
                       "budget.iterations=2", "tracking=none")  # fmt: skip
    assert code == 0, err
    rows = [json.loads(x) for x in (run_dir / "candidates.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows)
    assert "kernel-bandit-params" in rows[1]["source"] and "triton.jit" in rows[1]["source"]


def test_cli_run_from_the_repo_root(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.tune", "tracking=none", "device=interpret",
         "task.size=smoke", "budget.iterations=2", f"hydra.run.dir={tmp_path}/run"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "speedup over eager" in proc.stdout and "iterations 2/2" in proc.stdout
    run = tmp_path / "run"
    assert (run / "best_kernel.py").is_file()
    # piped: plain progress lines, whole paths, and the same in tune.log
    assert "iteration 2/2: " in proc.stderr and "\x1b" not in proc.stderr + proc.stdout
    assert str(run / "best_kernel.py") in proc.stdout
    log = (run / "tune.log").read_text()
    assert "iteration 1/2: " in log and "iteration 2/2: " in log
    assert "kernel-bandit run" in log and str(run / "best_kernel.py") in log
    assert not (run / ".hydra").exists()
    # a resume writes into the resumed run (its log grows) and leaves no new folder
    again = subprocess.run(
        [sys.executable, "-m", "experiments.tune", f"resume={run}",
         f"hydra.run.dir={tmp_path}/other"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "other").exists()
    assert "resuming" in (run / "tune.log").read_text()


def test_auto_without_cuda_is_a_smoke_dry_run(tmp_path, monkeypatch):
    import profiling.evaluator as ev

    monkeypatch.setattr(ev, "resolve_device", lambda d: "interpret" if d == "auto" else d)
    code, _out, err = app(tmp_path / "run", "tracking=none", "budget.iterations=1")
    assert code == 0, err
    assert "No CUDA device found" in err and "task.size=smoke" in err
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "size: smoke" in saved and "resolved: interpret" in saved


# -- the LLM realizer against the fake chat-completions server ------------------------------


def _llm_sources(n: int) -> list[str]:
    """Real Triton softmax kernels (from the offline realizer) as the LLM's answers."""
    from profiling.tasks import load_task
    from strategies.catalog import load_catalog
    from strategies.graph.realizer import GraphRealizer, initial_source
    from strategies.types import RealizeRequest

    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    realizer = GraphRealizer()
    sources = [initial_source(task)]
    for strategy in load_catalog().for_kind("softmax", target="triton"):
        if len(sources) >= n:
            break
        real = realizer.realize(RealizeRequest(task, strategy, sources[0]))
        if real.source and real.source not in sources:
            sources.append(real.source)
    return sources


def _openai(server, store: str, *more: str) -> list[str]:
    return smoke(
        store,
        "realizer=openai",
        f"realizer.base_url={server.url}",
        "realizer.model=fake-model",
        "realizer.api_key_env=null",
        "realizer.cache=off",
        "realizer.max_retries=0",
        "realizer.timeout_s=60",
        "realizer.price_input_per_mtok=1.0",
        "realizer.price_output_per_mtok=2.0",
        *more,
    )


def test_openai_realizer_token_totals_reach_mlflow(tmp_path, store):
    from tests.fakes.chat_server import FakeChatServer, Reply

    sources = _llm_sources(4)
    replies = [
        Reply.code(s, prompt_tokens=1000 + i, completion_tokens=300 + i)
        for i, s in enumerate(sources)
    ]
    with FakeChatServer(
        replies, default=Reply.code(sources[0], prompt_tokens=7, completion_tokens=3)
    ) as server:
        run_dir = tmp_path / "run"
        code, _out, err = app(run_dir, *_openai(server, store))
        usage = server.usage
    assert code == 0, err
    assert usage.total_tokens > 0
    _client, run = _mlflow_run(store, run_dir)
    assert run.data.tags["realizer"] == "openai" and run.data.tags["realizer_model"] == "fake-model"
    m = run.data.metrics
    arm_tokens = sum(
        v for k, v in m.items() if k.startswith("per_strategy/") and k.endswith("/tokens")
    )
    family_tokens = sum(
        v for k, v in m.items() if k.startswith("per_family/") and k.endswith("/tokens")
    )
    assert arm_tokens == family_tokens == usage.total_tokens
    assert m["headline/tokens_prompt"] == usage.prompt_tokens
    assert m["headline/tokens_completion"] == usage.completion_tokens
    expected_usd = (usage.prompt_tokens * 1.0 + usage.completion_tokens * 2.0) / 1e6
    assert m["headline/cost_usd"] == pytest.approx(expected_usd)


def test_refused_key_stops_cleanly_and_resume_continues(tmp_path, store):
    from tests.fakes.chat_server import FakeChatServer, Reply

    sources = _llm_sources(4)
    with FakeChatServer(
        [Reply.code(sources[0]), Reply.code(sources[1]), Reply.error(401)]
    ) as server:
        run_dir = tmp_path / "run"
        code, _out, err = app(run_dir, *_openai(server, store))
        assert code == 2
        assert "the API key was refused" in err and "Traceback" not in err
        lines = [json.loads(x) for x in (run_dir / "runlog.jsonl").read_text().splitlines()]
        assert sum(x["type"] == "iteration" for x in lines) == 2
        client, run = _mlflow_run(store, run_dir)
        assert run.info.status == "FAILED"

        server.push(Reply.code(sources[2]), Reply.code(sources[3]))
        server_default = Reply.code(sources[0])
        server.default = server_default
        code, _out, err = app(tmp_path / "ignored", f"resume={run_dir}")
        assert code == 0, err
    lines = [json.loads(x) for x in (run_dir / "runlog.jsonl").read_text().splitlines()]
    assert sum(x["type"] == "iteration" for x in lines) == 4
    assert sum(x["type"] == "candidate" and x["id"] == "ref" for x in lines) == 1
    client, run = _mlflow_run(store, run_dir)
    assert run.info.status == "FINISHED"
    steps = sorted(x.step for x in client.get_metric_history(run.info.run_id, "headline/reward"))
    assert steps == [1, 2, 3, 4]
    assert not (tmp_path / "ignored").exists()


@pytest.mark.parametrize("name, size, analysed", [
    (str(ROOT / "tests" / "strategies" / "kernelbench" / "34_matmul.py"), "default",
     2 * 48 * 36 * 40),
    ("matmul", "smoke", None),  # a bundled task declares get_flops: its own count is the floor's
])  # fmt: skip
def test_the_evaluated_task_carries_its_analysed_flops(
    tmp_path, monkeypatch, name, size, analysed
):
    """The entry point attaches the graph analysis's FLOPs to the task the harness gets."""
    import experiments.evaluation as evaluation
    from profiling.errors import UserError

    seen = []

    def capture(settings, task, device, realizer):
        seen.append(task)
        raise UserError("stop here")

    monkeypatch.setattr(evaluation, "open_evaluation", capture)
    code, _, err = app(tmp_path / "run", f"task.name={name}", f"task.size={size}",
                       "device=interpret", "tracking=none")  # fmt: skip
    assert code == 2 and "stop here" in err
    assert len(seen) == 1 and seen[0].analysed_flops == analysed
