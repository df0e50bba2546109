"""Every committed landscape matches the realizer code of this commit.

A change to a realizer that writes any recorded kernel differently makes replay miss it
(`not_recorded`) and every kernel below it; a change that writes them byte-identically still
changes the code fingerprint in the header. Either way this test fails until the landscapes
are re-stamped (`check_landscape --restamp`) or re-recorded on a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

from experiments.check_landscape import main

LANDSCAPES = Path(__file__).resolve().parents[2] / "experiments" / "landscapes"


def test_every_committed_landscape_is_current(tmp_path) -> None:
    files = sorted(LANDSCAPES.glob("*.jsonl"))
    assert len(files) >= 16  # the eleven bundled tasks and the KernelBench-style problems
    out = tmp_path / "check.json"
    main([*map(str, files), "--json", str(out)])
    rows = json.loads(out.read_text())
    assert len(rows) == len(files)
    behind = {Path(r["file"]).name: r["verdict"] for r in rows if r["verdict"] != "current"}
    assert not behind, (
        f"landscapes behind the realizer code: {behind}; run `python -m "
        "experiments.check_landscape experiments/landscapes/*.jsonl --restamp` (restampable) "
        "or record the stale ones again on a GPU (experiments/landscapes/README.md)"
    )
