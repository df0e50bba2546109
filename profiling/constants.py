"""A task module's constants: resolved once, overridden by rewriting the source.

KernelBench files as published define their sizes as module-level assignments:
literals (``dim = 4096``), expressions (``N = 2048 * 2``), chains
(``height = width = 128``) and tuples that follow other constants
(``bias_shape = (out_channels, 1, 1)``, ``input_shape = (32768,)``). They are
evaluated in file order without executing the file (only numbers, strings,
tuples, names of earlier constants and arithmetic); anything else
(``torch.randn(...)``) is not a constant. An override replaces the assignment of
its name, so constants derived from it follow, both here and when the module
runs.
"""

from __future__ import annotations

import ast
import copy
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Scalar = int | float | bool | str
Constant = Scalar | tuple[Any, ...]  # tuples of constants, nested

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_MAX_EXPONENT = 128  # `2 ** 10**9` in a task file must not hang the loader


class NotConstant(Exception):
    """The expression is not a constant this module can evaluate."""


def _value(node: ast.expr, env: Mapping[str, Constant]) -> Constant:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | bool | str):
        return node.value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_value(e, env) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand, env))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _value(node.left, env), _value(node.right, env)
        if isinstance(node.op, ast.Pow | ast.LShift) and (
            not isinstance(right, int | float) or abs(right) > _MAX_EXPONENT
        ):
            raise NotConstant
        try:
            return _BINOPS[type(node.op)](left, right)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
            raise NotConstant from e
    raise NotConstant


def assignments(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    """Top-level constant bindings in order, one (name, value expression) per name.

    ``a = b = <expr>`` binds both names to ``<expr>``; ``h, w = 32, 64`` binds
    ``h`` to ``32`` and ``w`` to ``64``; ``a: T = <expr>`` binds ``a``.
    """
    for node in tree.body:
        yield from _bindings(node)


def _bindings(node: ast.stmt) -> list[tuple[str, ast.expr]]:
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        return [(node.target.id, node.value)]
    if not isinstance(node, ast.Assign):
        return []
    out: list[tuple[str, ast.expr]] = []
    for t in node.targets:
        if isinstance(t, ast.Name):
            out.append((t.id, node.value))
        elif (
            isinstance(t, ast.Tuple)
            and isinstance(node.value, ast.Tuple)
            and len(t.elts) == len(node.value.elts)
            and all(isinstance(e, ast.Name) for e in t.elts)
        ):
            out.extend((e.id, v) for e, v in zip(t.elts, node.value.elts, strict=True))  # type: ignore[attr-defined]
        else:
            return []  # a starred or attribute target: not constants
    return out


def resolve(tree: ast.Module, overrides: Mapping[str, Constant] | None = None) -> dict[str, Constant]:
    """The module's constants in file order, with ``overrides`` in place of their assignments."""
    overrides = overrides or {}
    env: dict[str, Constant] = {}
    for node in tree.body:
        bound = _bindings(node)
        # the right-hand sides see the names as they were before this statement
        values = {}
        for name, value in bound:
            try:
                values[name] = overrides[name] if name in overrides else _value(value, env)
            except NotConstant:
                values[name] = None
        for name, v in values.items():
            if v is None:
                env.pop(name, None)  # re-bound to something that is not a constant
            else:
                env[name] = v
    return env


def literal_node(value: Constant) -> ast.expr:
    if isinstance(value, tuple):
        return ast.Tuple([literal_node(v) for v in value], ast.Load())
    return ast.Constant(value)


def rewrite(tree: ast.Module, overrides: Mapping[str, Constant]) -> tuple[ast.Module, set[str]]:
    """A copy of ``tree`` whose assignments to overridden names assign the new values.

    A chain that binds an overridden name is split into one assignment per name.
    Returns the new tree and the overridden names found.
    """
    out = copy.deepcopy(tree)
    body: list[ast.stmt] = []
    seen: set[str] = set()
    for node in out.body:
        bound = _bindings(node)
        hit = [n for n, _ in bound if n in overrides]
        if not hit:
            body.append(node)
            continue
        seen.update(hit)
        for name, value in bound:
            new = literal_node(overrides[name]) if name in overrides else copy.deepcopy(value)
            body.append(ast.Assign([ast.Name(name, ast.Store())], new))
    out.body = body
    return ast.fix_missing_locations(out), seen
