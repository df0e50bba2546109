"""What every run leaves to keep: the fastest correct program and the best candidate.

- `outcome(result)` names the fastest correct program (it may be the reference)
  and, separately, the best correct *candidate* with the chain of strategies that
  led to it from the reference, even when the reference stays fastest;
- `own_size_source(source, task)` puts the task file's own module constants back
  into a kernel tuned at a size preset (``smoke``), so ``best_kernel.py`` is a
  program at the task's size; its header comment says which size it was tuned at.

Speedup here is the measurement's own (reference ÷ candidate, timed interleaved in
the same worker); runs recorded before that existed fall back to the runtime ratio.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bandit.frontier import REFERENCE_ID, Member
from bandit.records import TuneResult
from profiling.tasks import Task, constants, parse_python

BEST_KERNEL = "best_kernel.py"
BEST_CANDIDATE = "best_candidate.py"


@dataclass(frozen=True)
class Kept:
    """One program worth keeping, with how it was found."""

    member: Member
    chain: tuple[str, ...]  # strategy ids from the reference to this kernel, in order
    speedup: float  # over the reference (1.0 for the reference itself)

    @property
    def id(self) -> str:
        return self.member.id

    @property
    def runtime_ms(self) -> float | None:
        return self.member.runtime_ms

    @property
    def is_reference(self) -> bool:
        return self.member.id == REFERENCE_ID

    @property
    def chain_text(self) -> str:
        return " -> ".join(("reference", *self.chain))


@dataclass(frozen=True)
class Outcome:
    reference: Member
    best: Kept  # the fastest correct program (the reference when nothing beat it)
    candidate: Kept | None  # the best correct candidate, None when none was correct
    tried: int  # candidates measured (the reference not counted)
    correct: int  # of them, correct

    @property
    def reference_fastest(self) -> bool:
        return self.best.is_reference


def speedup_of(member: Member, reference: Member) -> float:
    if member.id == reference.id:
        return 1.0
    m = member.measurement
    if m.ok and m.speedup:
        return float(m.speedup)
    ref, own = reference.runtime_ms, member.runtime_ms
    return ref / own if ref and own else 0.0


def chain(members: tuple[Member, ...] | list[Member], member: Member) -> tuple[str, ...]:
    """The strategies applied from the reference down to `member` (parents first)."""
    by_id = {m.id: m for m in members}
    steps: list[str] = []
    seen: set[str] = set()
    cur: Member | None = member
    while cur is not None and cur.id != REFERENCE_ID and cur.id not in seen:
        seen.add(cur.id)
        steps.append(cur.candidate.strategy_id or "?")
        parent = cur.candidate.parent_id
        cur = by_id.get(parent) if parent else None
    return tuple(reversed(steps))


def outcome(result: TuneResult) -> Outcome:
    """The tuner's best kernel, and the best correct candidate (the tuner's best when
    that is a candidate, else the candidate with the highest speedup)."""
    ref = result.reference
    members = tuple(result.members)
    cands = [m for m in members if m.id != ref.id]
    correct = [m for m in cands if m.ok and m.runtime_ms]

    def kept(m: Member) -> Kept:
        return Kept(m, chain(members, m), speedup_of(m, ref))

    best = kept(result.best)
    if not best.is_reference:
        cand: Kept | None = best
    else:
        top = max(correct, key=lambda m: speedup_of(m, ref), default=None)
        cand = kept(top) if top is not None else None
    return Outcome(ref, best, cand, tried=len(cands), correct=len(correct))


# -- files -------------------------------------------------------------------------------


def own_size_source(source: str, task: Task) -> str:
    """`source` with the module constants the task's size preset changed set back to the
    task file's own values (only constants `source` assigns at top level)."""
    if not task.overrides:
        return source
    own = constants(task.source)
    wanted = {k: own[k] for k in task.overrides if k in own}
    if not wanted:
        return source
    try:
        tree = parse_python(source)
    except SyntaxError:
        return source
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    for node in tree.body:
        name = _assigned_name(node)
        if name in wanted and node.end_lineno is not None:
            indent = lines[node.lineno - 1][: node.col_offset]
            edits.append((node.lineno - 1, node.end_lineno, f"{indent}{name} = {wanted[name]!r}\n"))
    for start, end, text in sorted(edits, reverse=True):
        lines[start:end] = [text]
    return "".join(lines)


def size_note(task: Task) -> str:
    """How the task was sized while tuning, e.g. ``smoke (batch_size=6, dim=128)``."""
    if not task.overrides:
        return f"{task.size} (the task file's own constants)"
    values = ", ".join(f"{k}={v!r}" for k, v in sorted(task.overrides.items()))
    return f"{task.size} ({values})"


def fmt_x(v: float) -> str:
    """A speedup with three significant digits at any scale (0.000017x, not 0.000x)."""
    return f"{v:.3f}x" if v >= 0.01 else f"{v:.3g}x"


def header(kept: Kept, task: Task, what: str, program: str = "") -> str:
    m = kept.member.measurement
    where = m.device or "device"
    timing = " (interpreter time)" if m.timing_kind == "interpreter" else ""
    rt = f"{kept.runtime_ms:.4f} ms" if kept.runtime_ms else "runtime not measured"
    lines = [
        f"# kernel-bandit {what}: {kept.id} ({kept.chain_text})",
        f"# {fmt_x(kept.speedup)} over the reference, {rt}{timing} on {where}",
        f"# tuned and measured at task size {size_note(task)}",
    ]
    fixed = _assigned(program) & set(task.overrides)
    if fixed:
        own = constants(task.source)
        values = ", ".join(f"{k}={own[k]!r}" for k in sorted(fixed) if k in own)
        lines.append(
            f"# the module constants below are the task's own size ({values}); "
            "timings at that size may differ"
        )
    return "\n".join(lines) + "\n"


def program_source(kept: Kept, task: Task) -> str:
    """A KernelBench ``ModelNew`` module for `kept` at the task's own size."""
    if kept.is_reference:
        body = own_size_source(task.source, task) if task.source else kept.member.candidate.source
        if "ModelNew" not in body:
            body = body.rstrip("\n") + "\n\n\nModelNew = Model  # the reference stays fastest\n"
        return body
    return own_size_source(kept.member.candidate.source, task)


def write_kept(out: Outcome, task: Task, run_dir: Path) -> dict[str, Path]:
    """Write best_kernel.py and, when the reference stayed fastest, best_candidate.py."""
    run_dir = Path(run_dir)
    files: dict[str, Path] = {}
    path = run_dir / BEST_KERNEL
    program = program_source(out.best, task)
    path.write_text(header(out.best, task, "best kernel", program) + program)
    files["best"] = path
    if out.candidate is not None:
        if out.candidate.id == out.best.id:
            files["candidate"] = path
        else:
            cpath = run_dir / BEST_CANDIDATE
            note = "# (the reference is faster; this is the best correct candidate found)\n"
            program = program_source(out.candidate, task)
            cpath.write_text(
                header(out.candidate, task, "best candidate", program) + note + program
            )
            files["candidate"] = cpath
    return files


def _assigned(source: str) -> set[str]:
    try:
        tree = parse_python(source)
    except SyntaxError:
        return set()
    return {n for n in map(_assigned_name, tree.body) if n is not None}


def _assigned_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        t = node.targets[0]
        return t.id if isinstance(t, ast.Name) else None
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        return node.target.id
    return None


def kept_facts(out: Outcome, files: Mapping[str, Path] | None = None) -> list[tuple[str, str]]:
    """The outcome as (label, value) rows for the summary table, the log and report.html."""
    files = files or {}
    ref_ms = out.reference.runtime_ms
    rows: list[tuple[str, str]] = []
    best = out.best
    if best.is_reference:
        rows.append(("fastest program", "the reference (no correct candidate beat it)"))
    else:
        rows.append(("fastest program", f"{best.id}: {best.chain_text}"))
    rows.append(("reference runtime", f"{ref_ms:.4f} ms" if ref_ms else "not measured"))
    c = out.candidate
    if c is None:
        rows.append(("best candidate", f"none correct ({out.correct} of {out.tried} tried)"))
    else:
        rt = f"{c.runtime_ms:.4f} ms" if c.runtime_ms else "-"
        rows.append(("best candidate", f"{c.id}: {c.chain_text}"))
        rows.append(("best candidate runtime", f"{rt}, {fmt_x(c.speedup)} over the reference"))
        if "candidate" in files:
            rows.append(("best candidate file", str(files["candidate"])))
    rows.append(("correct candidates", f"{out.correct} of {out.tried}"))
    if "best" in files:
        rows.append(("best kernel file", str(files["best"])))
    return rows
