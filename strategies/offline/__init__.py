"""Offline kernel generators; importing this package registers every generator.

Row-wise kinds (softmax, logsumexp, cross_entropy, layernorm, rmsnorm,
residual_add_rmsnorm) live in `softmax_like` and `norms`; the dense kinds
(elementwise, transpose, matmul) in their own modules, imported when present.
"""

from __future__ import annotations

import importlib

from strategies.offline import norms, softmax_like  # noqa: F401 - registration

for _name in ("elementwise", "transpose", "matmul"):
    try:
        importlib.import_module(f"strategies.offline.{_name}")
    except ModuleNotFoundError as _e:  # that generator module is not written (yet)
        if _e.name != f"strategies.offline.{_name}":
            raise
