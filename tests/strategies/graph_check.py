"""Helpers for the graph realizer tests: run a generated ModelNew against the reference."""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path
from typing import Any

import torch

from profiling.tasks import Task, exec_module, load_task

PROBLEM = '''"""{name}: a KernelBench-format problem written by a test."""

import torch
import torch.nn as nn
import torch.nn.functional as F

{consts}


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, {args}):
        return {body}


def get_inputs():
    return [{inputs}]


def get_init_inputs():
    return []
'''


def problem_task(tmp_path: Path, name: str, consts: str, args: str, body: str,
                 inputs: str) -> Task:
    """A parameterless KernelBench-format file under ``tmp_path`` (``forward(self, args)``
    returns ``body``; ``consts`` are its module constants), loaded as a task."""
    path = tmp_path / f"{name}.py"
    path.write_text(PROBLEM.format(name=name, consts=consts, args=args, body=body,
                                   inputs=inputs))  # fmt: skip
    return load_task(str(path))


def assert_correct(task: Task, source: str, atol: float = 1e-4, rtol: float = 1e-4,
                   device: str = "cpu") -> None:  # fmt: skip
    """Build Model and ModelNew with the same weights, run both (on ``device``: "cuda" runs
    compiled kernels), compare every output."""
    mod = task.load_module()
    torch.manual_seed(0)
    ref = mod.Model(*mod.get_init_inputs())
    cand = exec_module(source, f"cand_{task.name}").ModelNew(*mod.get_init_inputs())
    cand.load_state_dict(ref.state_dict())
    ref, cand = ref.to(device), cand.to(device)
    torch.manual_seed(1)
    inputs = [x.to(device) for x in mod.get_inputs()]
    with torch.no_grad():
        want = ref(*[x.clone() for x in inputs])
        got = cand(*[x.clone() for x in inputs])
    want_t: tuple[Any, ...] = want if isinstance(want, tuple) else (want,)
    got_t: tuple[Any, ...] = got if isinstance(got, tuple) else (got,)
    assert len(got_t) == len(want_t)
    for g, w in zip(got_t, want_t, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        torch.testing.assert_close(g, w, atol=atol, rtol=rtol)


def _loads(node: ast.AST) -> list[ast.Name]:
    """Names an expression (or an augmented target) reads, minus comprehension variables."""
    bound = {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
             for n in ast.walk(c.target) if isinstance(n, ast.Name)}  # fmt: skip
    return [n for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            and n.id not in bound]  # fmt: skip


def _stores(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _flow(stmts: list[ast.stmt], defined: set[str], bad: list[str]) -> set[str]:
    """Definite assignment through a block: a name must be bound on every path before a
    read. A branch binds a name only when both branches do; a loop body's names do not
    survive the loop (it may run zero times, and Triton rejects them too)."""
    defined = set(defined)
    for s in stmts:
        if isinstance(s, ast.If):
            bad += [f"{n.id} (line {n.lineno})" for n in _loads(s.test) if n.id not in defined]
            defined = _flow(s.body, defined, bad) & _flow(s.orelse, defined, bad)
        elif isinstance(s, (ast.For, ast.While)):
            head = s.iter if isinstance(s, ast.For) else s.test
            bad += [f"{n.id} (line {n.lineno})" for n in _loads(head) if n.id not in defined]
            inner = defined | (_stores(s.target) if isinstance(s, ast.For) else set())
            _flow(s.body, inner, bad)
            _flow(s.orelse, defined, bad)
        else:
            reads = _loads(s)
            if isinstance(s, ast.AugAssign):
                reads += [n for n in ast.walk(s.target) if isinstance(n, ast.Name)]
            bad += [f"{n.id} (line {n.lineno})" for n in reads if n.id not in defined]
            for t in (s.targets if isinstance(s, ast.Assign) else
                      [s.target] if isinstance(s, (ast.AnnAssign, ast.AugAssign)) else []):  # fmt: skip
                defined |= _stores(t)
    return defined


def undefined_names(source: str) -> dict[str, list[str]]:
    """For each ``@triton.jit`` function of a module source, the names it reads before
    (or without) binding them on every path: a GPU compile error the interpreter may
    never reach (a branch of a constexpr ``if`` it does not run)."""
    tree = ast.parse(source)
    known = set(dir(builtins))
    for s in tree.body:
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            known |= {(a.asname or a.name).split(".")[0] for a in s.names}
        elif isinstance(s, (ast.FunctionDef, ast.ClassDef)):
            known.add(s.name)
        elif isinstance(s, (ast.Assign, ast.AnnAssign)):
            for t in s.targets if isinstance(s, ast.Assign) else [s.target]:
                known |= _stores(t)
    out: dict[str, list[str]] = {}
    for f in tree.body:
        if not isinstance(f, ast.FunctionDef) or "jit" not in ast.unparse(f.decorator_list):
            continue
        bad: list[str] = []
        _flow(f.body, known | {a.arg for a in f.args.args}, bad)
        if bad:
            out[f.name] = bad
    return out


LAUNCH_RE = re.compile(r"\b(ROWS|BLOCK_C|SPLIT|BLOCK|BI|BJ|BM|BN|BK)=([^,)]+)")


def launch_blocks(source: str, cols: dict[str, int]) -> list[tuple[str, int]]:
    """(kernel launch line, elements of its largest block) for every launch in a generated
    source: ROWS x BLOCK_C (BLOCK_C=next_power_of_2(C) is taken from ``cols[kernel]``),
    ROWS x SPLIT, BLOCK, BI x BJ, and the matmul tiles BM x BN, BM x BK, BK x BN."""
    out = []
    for line in source.splitlines():
        found = dict(LAUNCH_RE.findall(line))
        if not found or "[" not in line:
            continue
        name = line.strip().split("[", 1)[0]
        v = {k: cols[name] if "next_power_of_2" in x else int(x) for k, x in found.items()}
        sizes = [v.get("BLOCK", 0), v.get("BI", 0) * v.get("BJ", 0),
                 v.get("ROWS", 0) * max(v.get("BLOCK_C", 0), v.get("SPLIT", 0)),
                 v.get("BM", 0) * v.get("BN", 0), v.get("BM", 0) * v.get("BK", 0),
                 v.get("BK", 0) * v.get("BN", 0)]  # fmt: skip
        out.append((line.strip(), max(sizes)))
    return out
