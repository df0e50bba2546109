"""Pull the candidate module out of an LLM reply and check it statically.

The output contract asks for exactly one fenced ```python block defining
``ModelNew``. `extract_code` is forgiving about the details (other blocks,
prose around it, ``py``/unlabeled fences) but strict about the substance: the
chosen block must parse, define ``class ModelNew``, import only allowed
modules, and call nothing that reaches outside the process. Candidates still
run in the isolated worker; these checks only reject obvious junk early and
cheaply, with an error message the repair turn can quote back.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from profiling.tasks import module_defines_model_new, parse_python

# top-level modules a candidate may import
ALLOWED_IMPORTS = frozenset(
    {
        "__future__",
        "abc",
        "collections",
        "cupy",
        "dataclasses",
        "enum",
        "functools",
        "itertools",
        "math",
        "numpy",
        "operator",
        "torch",
        "triton",
        "typing",
        "typing_extensions",
    }
)
# builtins that execute code, touch files or the terminal
BANNED_NAMES = frozenset(
    {"eval", "exec", "compile", "__import__", "open", "input", "breakpoint", "globals", "vars"}
)
# attribute names that mean side streams, processes, sockets, native extensions or timer games
BANNED_ATTRS = frozenset(
    {
        "system",
        "popen",
        "Popen",
        "Stream",
        "stream",
        "cpp_extension",
        "load_inline",
        "__builtins__",
        "__globals__",
        "__subclasses__",
    }
)
_PATCHED_ROOTS = frozenset({"torch", "triton", "cupy", "numpy", "math"})

_FENCE_RE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)[^\n]*$")
_PY_LANGS = frozenset({"python", "py", "python3", ""})


@dataclass(frozen=True)
class CodeBlock:
    lang: str
    text: str


@dataclass(frozen=True)
class Extraction:
    """The candidate source, or the reason there is none."""

    source: str | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.source is not None


def code_blocks(text: str) -> tuple[list[CodeBlock], bool]:
    """Fenced blocks in order, and whether the last fence was left open (truncation)."""
    blocks: list[CodeBlock] = []
    open_fence: str | None = None
    lang = ""
    lines: list[str] = []
    for line in text.splitlines():
        m = _FENCE_RE.match(line)
        if open_fence is None:
            if m:
                open_fence, lang, lines = m.group(1), m.group(2).lower(), []
        elif m and not m.group(2) and _closes(m.group(1), open_fence):
            blocks.append(CodeBlock(lang, "\n".join(lines).strip("\n") + "\n"))
            open_fence = None
        else:
            lines.append(line)
    return blocks, open_fence is not None


def _closes(fence: str, opening: str) -> bool:
    return fence[0] == opening[0] and len(fence) >= len(opening)


def extract_code(text: str) -> Extraction:
    """Choose the block defining ``ModelNew`` (prefer ```python; the last such one wins)."""
    blocks, unclosed = code_blocks(text)
    if unclosed:
        return Extraction(None, "reply is truncated: a code block is not closed with ```")
    if not blocks:
        return Extraction(None, "reply has no fenced ```python code block")
    python = [b for b in blocks if b.lang in _PY_LANGS]
    if not python:
        langs = ", ".join(sorted({b.lang for b in blocks}))
        return Extraction(None, f"reply has no python code block (only: {langs})")
    defining = [b for b in python if re.search(r"^class\s+ModelNew\b", b.text, re.MULTILINE)]
    labeled = [b for b in defining if b.lang]
    chosen = (labeled or defining or python)[-1]
    problems = static_check(chosen.text)
    if problems:
        return Extraction(None, "; ".join(problems))
    return Extraction(chosen.text)


def static_check(source: str) -> list[str]:
    """Problems that disqualify a candidate module before it is run (empty = fine)."""
    try:
        tree = parse_python(source)
    except SyntaxError as e:
        return [f"code does not parse: {e.msg} (line {e.lineno})"]
    problems: list[str] = []
    if not module_defines_model_new(tree):
        problems.append("code does not define a top-level class ModelNew")
    for node in ast.walk(tree):
        problem = _node_problem(node)
        if problem and problem not in problems:
            problems.append(problem)
    return problems


def _node_problem(node: ast.AST) -> str | None:
    if isinstance(node, ast.Import | ast.ImportFrom):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if isinstance(node, ast.ImportFrom) and node.level:
            return "relative imports are not allowed"
        for name in names:
            root = name.split(".")[0]
            if root not in ALLOWED_IMPORTS:
                allowed = ", ".join(sorted(ALLOWED_IMPORTS - {"__future__"}))
                return f"import of {name!r} is not allowed (allowed: {allowed})"
        parts = {p for n in names for p in n.split(".")} | {a.name for a in node.names}
        banned = sorted(parts & (BANNED_ATTRS | BANNED_NAMES))
        if banned:
            return f"import of {', '.join(banned)} is not allowed (no processes, side streams or native extensions)"
        return None
    if isinstance(node, ast.Name) and node.id in BANNED_NAMES:
        return f"use of {node.id}() is not allowed"
    if isinstance(node, ast.Attribute) and node.attr in BANNED_ATTRS:
        return f"use of .{node.attr} is not allowed (no processes, side streams or native extensions)"
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            root = _attr_root(t)
            if root in _PATCHED_ROOTS:
                return f"assigning to attributes of {root} (monkeypatching) is not allowed"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
        root = _attr_root(node.args[0]) if node.args else None
        if root in _PATCHED_ROOTS or (node.args and _is_name(node.args[0], _PATCHED_ROOTS)):
            return "setattr on torch/triton (monkeypatching) is not allowed"
    return None


def _attr_root(node: ast.AST) -> str | None:
    """``torch.cuda.Event.x`` -> "torch" for attribute targets; None for plain names."""
    if not isinstance(node, ast.Attribute):
        return None
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_name(node: ast.AST, names: frozenset[str]) -> bool:
    return isinstance(node, ast.Name) and node.id in names
