"""What a replayed run says about its landscape: synthetic data, another realizer or
version, and a landscape recorded under another torch (graph capture can differ)."""

from __future__ import annotations

import dataclasses

import torch

from experiments import TASKS_DIR
from experiments.evaluation import _replay_notes
from profiling.landscape import Landscape, minor_version, software_versions
from profiling.replay import ReplayEvaluator
from profiling.tasks import load_task
from strategies.graph.realizer import GraphRealizer
from strategies.space import realizer_version
from tests.fakes.landscapes import synthetic_landscape


def _replay(land: Landscape, **header) -> ReplayEvaluator:
    return ReplayEvaluator(dataclasses.replace(
        land, header=dataclasses.replace(land.header, **header)))


def test_torch_of_another_minor_version_is_named_and_the_same_is_silent(tmp_path) -> None:
    task = load_task("softmax", "smoke", TASKS_DIR)
    land = synthetic_landscape(task, tmp_path / "softmax@smoke.jsonl", depth=1)
    realizer = GraphRealizer()
    measured = {"synthetic": False, "realizer_version": realizer_version(realizer)}
    running = software_versions()["torch"]
    assert running == torch.__version__.split("+")[0] and minor_version("2.11.0") == "2.11"
    same = _replay_notes(_replay(land, software={"torch": running}, **measured), realizer, task)
    assert not any("warning" in n for n in same)
    other = _replay_notes(_replay(land, software={"torch": "1.0.0"}, **measured), realizer, task)
    assert [n for n in other if "torch 1.0.0" in n and f"this is {running}" in n]
    unknown = _replay_notes(_replay(land, software={}, **measured), realizer, task)
    assert not any("recorded with torch" in n for n in unknown)


def test_the_header_keeps_its_software_versions(tmp_path) -> None:
    from profiling.landscape import LandscapeHeader

    task = load_task("softmax", "smoke", TASKS_DIR)
    land = synthetic_landscape(task, tmp_path / "s.jsonl", depth=0)
    h = dataclasses.replace(land.header, software={"torch": "2.11.0", "triton": "3.6.0"})
    back = LandscapeHeader.from_dict(h.to_dict())
    assert back.software == {"torch": "2.11.0", "triton": "3.6.0"}
    assert LandscapeHeader.from_dict({**h.to_dict(), "software": None}).software == {}
