"""A SQLite tracking store is created atomically: a kill mid-migration corrupts nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from experiments.sqlite_store import artifact_location, ensure_sqlite_store, sqlite_path

ROOT = Path(__file__).resolve().parents[2]


def _client(db: Path):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{db}")


def test_paths_of_sqlite_uris_only(tmp_path):
    assert sqlite_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert sqlite_path("http://127.0.0.1:5000") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert artifact_location(f"sqlite:///{tmp_path}/a.db") == (tmp_path / "mlartifacts").as_uri()
    assert artifact_location("http://127.0.0.1:5000") is None


def test_a_new_store_is_complete_and_leaves_no_private_file(tmp_path):
    db = tmp_path / "sub" / "mlflow.db"
    ensure_sqlite_store(f"sqlite:///{db}")
    assert db.is_file()
    assert _client(db).create_experiment("x")
    assert sorted(p.name for p in db.parent.iterdir()) == ["mlflow.db"]


def test_an_existing_store_is_left_alone(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"not touched")
    ensure_sqlite_store(f"sqlite:///{db}")
    assert db.read_bytes() == b"not touched"


def test_kills_during_creation_leave_a_usable_store(tmp_path):
    db = tmp_path / "mlflow.db"
    code = (
        "import sys; from experiments.sqlite_store import ensure_sqlite_store; "
        "ensure_sqlite_store(sys.argv[1])"
    )
    rng = random.Random(0)
    killed = 0
    for _ in range(3):
        p = subprocess.Popen(
            [sys.executable, "-c", code, f"sqlite:///{db}"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + 60
        while (
            p.poll() is None
            and not any(tmp_path.glob(".mlflow.db.init-*"))
            and time.monotonic() < deadline
        ):
            time.sleep(0.002)  # the migration has begun once the private file exists
        time.sleep(rng.uniform(0.0, 0.3))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
        assert not db.exists() or _client(db).search_experiments() is not None
    assert killed >= 2  # most rounds die mid-creation: the case this guards
    ensure_sqlite_store(f"sqlite:///{db}")
    assert _client(db).create_experiment("after-kills")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]  # stale files gone
