"""The JSONL run log: the source of truth for resuming a run.

One JSON object per line, appended and flushed as the run goes:

- ``header``: what the run is (task, policy, seed, ...); written once;
- ``candidate``: a measured kernel (source, provenance, cost, measurement, cluster);
- ``iteration``: an `IterationRecord` plus the policy's ``state_dict`` after ``tell``;
- ``counters``: hardware counters a probe measured for a kernel after it was
  logged (a new parent), with the profiling seconds;
- ``end``: why the run stopped (a resumed run appends more lines after it);
- ``resume``: a process took the run up again from here;
- ``measured``: a measurement, written the moment the evaluator returns it (keyed
  by source hash), and ``realized``: a realizer's answer, written the moment it
  returns (keyed by the request): a run killed anywhere (SIGKILL included)
  resumes without evaluating a measured source or asking the LLM again.

Candidates of an iteration are written just before its iteration line. Reading
tolerates a truncated last line (a crash mid-write); candidates after the last
iteration line belong to an unfinished iteration and come back as `orphans`, so a
resumed run reuses their measurements instead of evaluating them again; it logs the ones
it uses again in its own iteration, so orphans before a ``resume`` line are dropped there
(otherwise a kernel whose iteration a kill interrupted would be read back twice).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from bandit.frontier import Member
from bandit.records import IterationRecord
from profiling.measurement import Measurement
from profiling.probes.counters import Counters
from strategies.types import Candidate, Realization, RealizationCost

VERSION = 1


@dataclass(frozen=True)
class LoggedCandidate:
    candidate: Candidate
    measurement: Measurement
    cluster: int
    iteration: int


@dataclass(frozen=True)
class LoggedRun:
    header: Mapping[str, Any]
    candidates: tuple[LoggedCandidate, ...]  # of finished iterations (and the reference)
    records: tuple[IterationRecord, ...]
    policy_state: Mapping[str, Any] | None  # after the last finished iteration
    orphans: tuple[LoggedCandidate, ...] = ()  # measured in an unfinished iteration
    ends: tuple[Mapping[str, Any], ...] = field(default=())
    measured: Mapping[str, Measurement] = field(default_factory=dict)  # source hash -> m
    realized: Mapping[str, Realization] = field(default_factory=dict)  # request key -> answer
    counters: Mapping[str, Counters | None] = field(default_factory=dict)  # by kernel id


def _jsonable(o: Any) -> Any:
    """json.dumps fallback: numpy scalars and arrays, tuples in sets, paths."""
    if isinstance(o, np.generic | np.ndarray):
        return o.tolist()
    if isinstance(o, set | frozenset):
        return sorted(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def candidate_dict(member: Member) -> dict[str, Any]:
    """A measured kernel as plain JSON: the run log's candidate lines and the run
    directory's candidates.jsonl rows (`speedup` is `Measurement.speedup`)."""
    c, m = member.candidate, member.measurement
    return {
        "id": c.id,
        "parent_id": c.parent_id,
        "strategy_id": c.strategy_id,
        "iteration": member.iteration,
        "cluster": member.cluster,
        "status": str(m.status),
        "error": m.error,
        "runtime_ms": m.runtime_ms,
        "speedup": member.speedup,
        "cost": asdict(c.cost),
        "params": dict(c.params),
        "measurement": m.to_dict(),
        "source": c.source,
    }


def dumps(obj: Mapping[str, Any]) -> str:
    """One JSON line (numpy values, sets and paths allowed)."""
    return json.dumps(obj, default=_jsonable, separators=(",", ":"))


class RunLog:
    """Appends to (and reads back) one run's JSONL log."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = None
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def _append(self, obj: Mapping[str, Any]) -> None:
        with self._lock:  # a round's attempts journal from several threads
            self._append_locked(obj)

    def _append_locked(self, obj: Mapping[str, Any]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(dumps(obj) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def write_header(self, meta: Mapping[str, Any]) -> None:
        self._append({"type": "header", "version": VERSION, **meta})

    def append_candidate(self, member: Member) -> None:
        self._append({"type": "candidate", **candidate_dict(member)})

    def append_iteration(self, record: IterationRecord, policy_state: Mapping[str, Any]) -> None:
        self._append(
            {"type": "iteration", "record": record.to_dict(), "policy_state": policy_state}
        )

    def append_measured(self, source_hash: str, m: Measurement) -> None:
        self._append({"type": "measured", "hash": source_hash, "measurement": m.to_dict()})

    def append_realized(self, key: str, r: Realization) -> None:
        self._append(
            {
                "type": "realized",
                "key": key,
                "source": r.source,
                "cost": asdict(r.cost),
                "error": r.error,
                "params": dict(r.params),
            }
        )

    def append_counters(self, candidate_id: str, counters: Counters | None, seconds: float) -> None:
        self._append({
            "type": "counters",
            "id": candidate_id,
            "counters": counters.to_dict() if counters is not None else None,
            "seconds": seconds,
        })

    def append_resume(self) -> None:
        """Mark a resume; a torn last line (a crash mid-write, which `read` skipped) is cut
        first, so the lines appended after it stay lines of their own."""
        with self._lock:
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                with self.path.open("r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)
            self._append_locked({"type": "resume"})

    def append_end(self, stop_reason: str, error: str | None) -> None:
        self._append({"type": "end", "stop_reason": stop_reason, "error": error})

    def read(self) -> LoggedRun:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        header: dict[str, Any] | None = None
        done: list[LoggedCandidate] = []
        pending: list[LoggedCandidate] = []
        records: list[IterationRecord] = []
        ends: list[Mapping[str, Any]] = []
        counters: dict[str, Counters | None] = {}
        state: Mapping[str, Any] | None = None
        measured: dict[str, Measurement] = {}
        realized: dict[str, Realization] = {}
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                if n == len(lines):  # a crash mid-write: drop the partial last line
                    break
                raise ValueError(f"{self.path}:{n}: corrupt run log line: {e}") from e
            kind = obj.get("type")
            if kind == "header":
                header = header or obj
            elif kind == "candidate":
                pending.append(_candidate(obj))
            elif kind == "iteration":
                records.append(IterationRecord.from_dict(obj["record"]))
                state = obj.get("policy_state")
                done.extend(pending)
                pending = []
            elif kind == "end":
                ends.append(obj)
            elif kind == "resume":  # the resumed process logs again the orphans it reuses
                pending = [c for c in pending if c.iteration == 0]
            elif kind == "measured":
                measured[obj["hash"]] = Measurement.from_dict(obj["measurement"])
            elif kind == "realized":
                realized[obj["key"]] = Realization(
                    obj.get("source"),
                    RealizationCost(**obj.get("cost", {})),
                    obj.get("error", ""),
                    dict(obj.get("params", {})),
                )
            elif kind == "counters":
                c = obj.get("counters")
                counters[str(obj["id"])] = Counters.from_dict(c) if c else None
        if header is None:
            raise ValueError(f"{self.path}: not a run log (no header line)")
        # the reference is measured before any iteration: it is never an orphan
        while pending and pending[0].iteration == 0:
            done.append(pending.pop(0))
        return LoggedRun(
            header,
            tuple(done),
            tuple(records),
            state,
            tuple(pending),
            tuple(ends),
            measured,
            realized,
            counters,
        )


def _candidate(obj: Mapping[str, Any]) -> LoggedCandidate:
    cand = Candidate(
        id=obj["id"],
        source=obj["source"],
        parent_id=obj.get("parent_id"),
        strategy_id=obj.get("strategy_id"),
        cost=RealizationCost(**obj.get("cost", {})),
        params=dict(obj.get("params", {})),
    )
    return LoggedCandidate(
        cand, Measurement.from_dict(obj["measurement"]), int(obj["cluster"]), int(obj["iteration"])
    )
