"""Small pieces shared by the template emitters and the module renderer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx

from strategies.graph import ops


@dataclass(frozen=True)
class Kernel:
    name: str
    source: str  # module-level source: the @triton.jit function (or a CUDA source string)
    launch: list[str]  # forward() lines: allocate outputs, launch
    # module-level helpers the kernel or its launch needs, each written once per module
    preludes: tuple[str, ...] = ()


def indent(lines: list[str], n: int) -> list[str]:
    pad = " " * n
    return [pad + line if line else line for line in lines]


def numel_expr(shape: tuple[str, ...]) -> str:
    return " * ".join(f"({s})" for s in shape) or "1"


def shape_expr(node: fx.Node) -> str:
    v = ops.val(node)
    dims = [ops.size_str(s) for s in v.shape]
    return "(" + "".join(f"{d}, " for d in dims) + ")"


def dtype_expr(dtype: torch.dtype) -> str:
    return f"torch.{str(dtype).removeprefix('torch.')}"


def out_alloc(node: fx.Node) -> str:
    v = ops.val(node)
    return (
        f"v_{node.name} = torch.empty({shape_expr(node)}, dtype={dtype_expr(v.dtype)}, device=_dev)"
    )
