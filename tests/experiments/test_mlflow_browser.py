"""The MLflow UI in a real browser: a small tuning run in a SQLite store, `mlflow server`
on a free local port, headless Chromium (over the DevTools protocol) on the pages the
run summary links to.

Checks that the experiment page shows the runs table (not the GenAI traces page) and
that the run's charts page shows the headline curves before the per-arm sections.
Screenshots land in the test's tmp folder (and in $KB_SCREENSHOTS when set).

Chromium is a third-party binary (Debian's ``chromium``; `.ci/run` installs it): the
test is skipped where it is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bandit import Budget, Tuner, TunerParts, TunerSettings, make_policy
from experiments.report import RunDirWriter
from experiments.settings import TrackingSettings
from experiments.tracking import MlflowTracker, ui_url
from tests.bandit.tuner_fakes import (
    REF_SOURCE,
    TASK,
    FakeEvaluator,
    FakeRealizer,
    catalog,
)
from tests.experiments.browser import Browser, find_chromium

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
RUN_NAME = "fake-ucb-s0-browser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keep(shot: Path) -> None:
    folder = os.environ.get("KB_SCREENSHOTS")
    if folder and shot.is_file():
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A store with one small tuning run, an MLflow server on it, and a browser."""
    root = tmp_path_factory.mktemp("mlflow-ui")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    import mlflow

    mlflow.MlflowClient(tracking_uri=uri).search_experiments()  # create the schema first
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        writer = RunDirWriter(root / "run")
        tracker = MlflowTracker(
            TrackingSettings(True, uri, "browser-test"),
            writer,
            params={"task.name": "fake", "policy.name": "ucb", "seed": 0},
            run_name=RUN_NAME,
            flush_s=0.0,
        )
        Tuner(
            TASK,
            FakeEvaluator(),
            FakeRealizer(tokens=(100, 40), usd=0.002),
            make_policy("ucb", 0),
            catalog(),
            settings=TunerSettings(seed=0),
            parts=TunerParts(
                run_log=root / "run" / "runlog.jsonl",
                observers=[writer, tracker],
                reference_source=REF_SOURCE,
            ),
        ).run(Budget(iterations=8))
        assert tracker.failed is None and tracker.run_id
        deadline = time.monotonic() + 90
        while True:  # the server starts while the run is made
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server did not start: {(root / 'server.log').read_text()[-800:]}"
                )
            time.sleep(0.3)
        with Browser(CHROMIUM) as browser:
            yield base, tracker, browser
    finally:  # the server and its workers: one process group, started for this test
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


def test_experiment_page_opens_on_the_runs_table(ui, tmp_path):
    base, tracker, browser = ui
    browser.goto(ui_url(str(tracker.experiment_id), base=base))
    text = browser.wait_for(RUN_NAME, "Run Name")
    keep(browser.screenshot(tmp_path / "mlflow_experiment_runs.png"))
    assert RUN_NAME in text and "Run Name" in text  # the runs table lists the run
    assert "Training runs" in text or "Runs" in text
    assert "No data available" not in text and "Detect Issues" not in text  # not GenAI


def test_run_page_shows_the_headline_curves_first(ui, tmp_path):
    base, tracker, browser = ui
    browser.goto(ui_url(str(tracker.experiment_id), tracker.run_id, base=base))
    text = browser.wait_for("headline", "best_speedup", "reward", "Step")  # drawn charts
    keep(browser.screenshot(tmp_path / "mlflow_run_charts.png"))
    (tmp_path / "run_page.txt").write_text(text)
    first = re.search(r"headline\s*\(\d+\)", text)  # the first chart section...
    assert first is not None, text[-2000:]
    head = text[first.start() :]
    for chart in ("best_speedup", "reward", "cost_usd"):  # ...holds the headline curves
        assert chart in head, chart
    assert "Step" in head  # drawn, not still loading
    for later in ("per_family/", "per_strategy/"):  # per-arm sections come after it
        assert later not in text or text.index(later) > first.start()
