"""Offline kernel generators; importing this package registers every generator.

Row-wise kinds (softmax, logsumexp, cross_entropy, layernorm, rmsnorm,
residual_add_rmsnorm) live in `softmax_like` and `norms`; the dense kinds in
`elementwise` (gelu, swiglu), `transpose` and `matmul` (matmul, matmul_bias_gelu).
"""

from __future__ import annotations

from strategies.offline import (  # noqa: F401 - registration
    elementwise,
    matmul,
    norms,
    softmax_like,
    transpose,
)
