"""The reduction template: [ROWS, BLOCK_C] tiles over (kept axes) x (reduced axes).

Each program owns ROWS rows (kept-axis positions). ``single`` mode holds a whole row
in registers (BLOCK_C = next_pow2(C) at run time) and computes every member once;
``loop`` mode walks the row in BLOCK_C chunks, one pass per reduction level
(softmax: max, then sum of exp, then the normalized store), recomputing the cheap
pointwise prologue in each pass instead of spilling it to memory. ``var`` (from
layer/group/batch norm decompositions) is a mean pass plus a centred sum-of-squares
pass, the numerically safe two-pass form; with ``online`` in loop mode it is one
pass of per-lane Welford updates (count, mean, M2) combined across lanes after the
loop (layer/group/instance norm read the row twice instead of three times).
A row gather (cross-entropy's target logit) is no pass: its operand's chain is
evaluated at the gathered column once the reductions it reads are done. A scan
(cumsum, cumprod) is a full-space member: the whole row at once in single mode, and in
loop mode each chunk offset by a per-row carry (set before each pass that needs it).
Max/min/arg reductions keep torch's NaN; products combine through a ``_mul`` helper.
Accumulators are fp32 vectors reduced once after the loop, but for an online
sum of exp: one running value a row, each chunk's sum folded in (`online_fold`).
``persistent`` loops a program over row blocks.

Parameters: ``ROWS``, ``BLOCK_C``, ``mode`` (single | loop), ``num_warps``,
``num_stages``, ``evict``, ``persistent``.
"""

from __future__ import annotations

from typing import Any

from torch import fx

from strategies.graph import ops
from strategies.graph.builder import NEG_INF, Builder, Scope, kernel_args, reg, store
from strategies.graph.layout import (
    Access,
    address,
    clamped,
    collapse,
    constant_along_row,
    coords,
    size_expr,
    stride_args,
)
from strategies.graph.reduction_parts import (
    INIT,
    ancestors,
    combine_preludes,
    final,
    fold,
    init,
    keeps_nan,
    levels,
    online_final,
    online_fold,
    online_pairs,
    red_kind,
    row_init,
    row_reduce,
    scan_init,
    scan_kind,
    scan_lines,
    single_lines,
    var_pass_final,
    welford_final,
    welford_fold,
    welford_init,
)
from strategies.graph.render_util import Kernel, indent, numel_expr, out_alloc


class _Emitter:
    def __init__(self, b: Builder, p: dict[str, Any]) -> None:
        self.b, self.p = b, p
        b.evict, b.fast = bool(p.get("evict")), bool(p.get("fast_math"))
        probe = Scope()
        for n in b.g.members:
            if scan_kind(n):
                b.operand(n.args[0], "full", probe, lambda a: "0", None)
            elif not red_kind(n):
                b.compute(n, probe, lambda a: "0", None)
            else:
                b.operand(n.args[0], "full", probe, lambda a: "0", None)
                if red_kind(n) == "gather":
                    b.operand(n.args[2], "row", probe, lambda a: "0", None)
        self.accesses = [*b.loads.values(), *(a for _, a in b.stores)]
        self.dims = collapse(b.g, self.accesses)
        self.kept = [d for d in self.dims if not d.reduced]
        self.red = [d for d in self.dims if d.reduced]
        self.strided = [a for a in self.accesses if not a.dense]
        # operands constant along the row's contiguous axis, read unmasked at clamped
        # coordinates (an H200, 41_groupnorm's one-pass kernel: 0.263 ms with its weight
        # loads masked, 0.160 ms without)
        b.in_bounds = constant_along_row(list(b.loads.values()), self.dims)
        on = p.get("online") and p["mode"] == "loop" and p.get("split", 1) == 1
        self.online = online_pairs(b.g) if on else {}
        self.welford = bool(on) and any(red_kind(n) == "var" for n in b.g.members)
        self.avail = levels(b, self.online, self.welford)
        self.nan = keeps_nan(b.g)
        self.done: set[fx.Node] = set()

    def addr(self, a: Access) -> str:
        if a.dense:
            return "row * C + col" if a.space == "full" else "row"
        if a.ptr in self.b.in_bounds:
            return address(a, self.dims, "kc", "qc")
        return address(a, self.dims, "k", "q")

    def rows_ready(self, upto: int, scope: Scope) -> None:
        """Compute the row values whose inputs are all defined by now."""
        members = self.b.members
        for n in self.b.g.members:
            if n in self.done or self.avail[n] > upto:
                continue
            if red_kind(n) == "gather":
                if not self.point_deps(n) - self.done:
                    self.point(n, scope)
                    self.done.add(n)
                continue
            if self.b.space(n) != "row" or red_kind(n):
                continue
            if any(a in members and a not in self.done for a in n.all_input_nodes):
                continue
            self.b.compute(n, scope, self.addr, "rmask")
            self.done.add(n)

    def point_deps(self, n: fx.Node) -> set[fx.Node]:
        """Row values a gather's point evaluation reads: its index and the row inputs of
        the full-space chain under its operand."""
        chain = ancestors(self.b, [n.args[0]])
        ins = {a for m in chain for a in m.all_input_nodes} | {n.args[0], n.args[2]}
        return {a for a in ins - chain if a in self.b.members}

    def point(self, n: fx.Node, scope: Scope) -> None:
        """``gather(x, d, index)`` as one element a row: the full-space chain under ``x``
        evaluated at column ``index`` (one load a row, no pass over the row); an index
        outside [0, C) (an ignored target) gives 0, as a masked sum over the row would."""
        b, r = self.b, reg(n)
        idx = b.operand(n.args[2], "row", scope, self.addr, "rmask")
        scope.lines += [f"{r}_i = {idx}", f"{r}_ok = rmask & ({r}_i >= 0) & ({r}_i < C)"]
        if self.strided and self.red:  # g.red_dims == (d,): one reduced coordinate
            scope.lines.append(f"{r}_p0 = {r}_i")

        def addr(a: Access) -> str:
            if a.space != "full":
                return self.addr(a)
            return f"row * C + {r}_i" if a.dense else address(a, self.dims, "k", f"{r}_p")

        chain = ancestors(b, [n.args[0]])
        b.suffix = f"_at_{n.name}"
        try:
            for m in b.g.members:
                if m in chain:
                    b.compute(m, scope, addr, f"{r}_ok")
            x = b.operand(n.args[0], "full", scope, addr, f"{r}_ok")
        finally:
            b.suffix = ""
        scope.lines.append(f"{r} = tl.where({r}_ok, {x}, 0.0)")

    def after(self, finished: list[fx.Node], upto: int, scope: Scope) -> None:
        """What follows reductions in every mode (single, loop, online, split phase 1):
        mark them finished, then compute the row epilogue that became ready."""
        self.done.update(finished)
        self.rows_ready(upto, scope)

    def stores(self, spaces: tuple[str, ...]) -> list[str]:
        """The stores of the outputs in ``spaces`` (a full store under the chunk mask)."""
        b = self.b
        return [store(a, self.addr(a), reg(n), "mask" if a.space == "full" else "rmask", b.evict)
                for n, a in b.stores if a.space in spaces]  # fmt: skip

    def chunk_head(self, start: str) -> list[str]:
        lines = [f"col = {start} + tl.arange(0, BLOCK_C)[None, :]", "mask = rmask & (col < C)"]
        if self.p.get("even"):  # chunks start on BLOCK_C multiples and are contiguous
            lines.insert(
                1, "col = tl.max_contiguous(tl.multiple_of(col, [1, BLOCK_C]), [1, BLOCK_C])"
            )
        if self.strided and self.red:
            lines += coords(self.red, "col", "q", [f"Q{i}" for i in range(len(self.red))])
        if self.b.in_bounds:
            lines += clamped(len(self.red), "q", "Q", "C")
        return lines

    def full_nodes(self, scope: Scope, needed: set[fx.Node]) -> None:
        """The needed full-space members over one chunk (a scan: offset by its carry)."""
        for n in self.b.g.members:
            if n in needed:
                self.full(n, scope, carry=True)

    def full(self, n: fx.Node, scope: Scope, carry: bool) -> None:
        if not scan_kind(n):
            self.b.compute(n, scope, self.addr, "mask")
            return
        x = self.b.operand(n.args[0], "full", scope, self.addr, "mask")
        scope.lines += scan_lines(n, x, carry)

    def single(self) -> list[str]:
        b = self.b
        scope = Scope(lines=self.chunk_head("0"))
        top = max(self.avail.values(), default=0)
        reds = [n for n in b.g.members if red_kind(n) not in (None, "gather")]
        needed = ancestors(
            b, [n.args[0] for n in reds] + [n for n, a in b.stores if a.space == "full"]
        )
        self.rows_ready(0, scope)
        for n in b.g.members:
            kind = red_kind(n)
            if kind in (None, "gather"):
                if n in needed:
                    self.full(n, scope, carry=False)
                continue  # row values and gathers: by ``after`` once their reductions are done
            x = b.operand(n.args[0], "full", scope, self.addr, "mask")
            scope.lines += single_lines(n, kind, x, n in self.nan)
            self.after([n], top, scope)
        return scope.lines

    def looped(self) -> list[str]:
        b, lines = self.b, []
        reds = [n for n in b.g.members if red_kind(n) not in (None, "gather")]
        full_out = [n for n, a in b.stores if a.space == "full"]
        last = max((self.avail[n] for n in full_out), default=-1) + 1 if full_out else 0
        passes = max([*(self.avail[n] for n in reds), last])
        pre = Scope()
        self.rows_ready(0, pre)
        lines += pre.lines
        for p in range(1, passes + 1):
            work: list[tuple[fx.Node, str, str, str]] = []  # node, kind, input reg, acc
            for n in reds:
                kind = red_kind(n)
                first = self.avail[n] - (2 if kind == "var" and not self.welford else 1) + 1
                if kind == "var" and self.welford and p == first:
                    work.append((n, "welford", "", f"acc_{n.name}"))
                elif kind == "var" and not self.welford and p in (first, first + 1):
                    work.append((n, "sum", "", f"acc_{n.name}_{p - first}"))
                elif n in self.online and p == self.avail[n]:
                    work.append((n, "online", "", f"acc_{n.name}"))
                elif kind != "var" and p == first:
                    work.append((n, kind, "", f"acc_{n.name}"))
            stores = full_out if p == last else []
            roots = [self.online[n].args[0] if k == "online" else n.args[0] for n, k, *_ in work]
            needed = ancestors(b, roots + stores)
            paired = {self.online[n] for n, kind, *_ in work if kind == "online"}
            for n, kind, _, acc in work:
                if kind == "welford":
                    lines += welford_init(acc)
                    continue
                if n in paired or kind == "online":  # the online sum and its max: a row's value
                    lines += row_init("max" if n in paired else "sum", acc)
                    continue
                lines += init(kind, acc)
            lines += [s for n in b.g.members if n in needed and scan_kind(n) for s in scan_init(n)]
            lines.append("for c0 in range(0, C, BLOCK_C):")
            scope = Scope(lines=self.chunk_head("c0"))
            self.full_nodes(scope, needed)
            for n, kind, _, acc in sorted(work, key=lambda w: w[1] != "online"):
                if kind == "online":  # first: it reads the max before this chunk updates it
                    x = b.operand(self.online[n].args[0], "full", scope, self.addr, "mask",
                                  other=NEG_INF)  # fmt: skip
                    m_acc = f"acc_{self.online[n].name}"
                    scope.lines += online_fold(acc, m_acc, x, padded=x in scope.neg_inf)
                    continue
                if n in paired:  # the chunk's max is already folded in by its online sum
                    partner = next(s for s, m in self.online.items() if m is n)
                    scope.lines.append(f"{acc} = acc_{partner.name}_m")
                    continue
                x = b.operand(n.args[0], "full", scope, self.addr, "mask")
                if kind == "welford":
                    scope.lines += welford_fold(acc, x)
                    continue
                if acc.endswith("_1") and red_kind(n) == "var":
                    x = f"tl.where(mask, {x} - {reg(n)}_m, 0.0)"
                    x = f"({x} * {x})"
                scope.lines += fold(kind, acc, x, "col", n in self.nan)
            for n, a in b.stores:
                if n in stores:
                    scope.lines.append(store(a, self.addr(a), reg(n), "mask", b.evict))
            lines += indent(scope.lines, 4)
            post = Scope()
            # the online sum last: its shift (a row function of the max) is ready by then
            for n, kind, _, acc in sorted(work, key=lambda w: w[1] == "online"):
                if kind == "welford":
                    post.lines += welford_final(acc, reg(n), ops.normalized_args(n)[2] or 0)
                elif red_kind(n) == "var":
                    post.lines += var_pass_final(acc, reg(n), ops.normalized_args(n)[2] or 0)
                elif kind == "online":
                    shift = reg(n.args[0].args[0].args[1])
                    post.lines += online_final(acc, f"acc_{self.online[n].name}", reg(n), shift)
                else:
                    post.lines += final(kind, acc, reg(n), n in self.nan)
                self.after([n], p, post)
            lines += post.lines
        return lines

    def split(self) -> list[str]:
        """Phase 0: each (row block, split) reduces its column range into the workspace;
        phase 1: each row block combines the SPLIT partials and runs the row epilogue."""
        b = self.b
        reds = [n for n in b.g.members if red_kind(n)]
        lines = ["if PHASE == 0:"]
        body = ["sid = tl.program_id(1)"]
        for n in reds:
            body += init(red_kind(n), f"acc_{n.name}")
        body.append("for c0 in range(sid * CS, sid * CS + CS, BLOCK_C):")
        scope = Scope(lines=self.chunk_head("c0"))
        self.full_nodes(scope, ancestors(b, [n.args[0] for n in reds]))
        for n in reds:
            x = b.operand(n.args[0], "full", scope, self.addr, "mask")
            scope.lines += fold(red_kind(n), f"acc_{n.name}", x, "col", n in self.nan)
        body += indent(scope.lines, 4)
        for i, n in enumerate(reds):
            body += final(red_kind(n), f"acc_{n.name}", f"part{i}", n in self.nan)
            body.append(f"tl.store(ws + ({i} * R + row) * SPLIT + sid, part{i}, mask=rmask)")
        lines += indent(body, 4)
        lines.append("else:")
        body = ["s = tl.arange(0, SPLIT)[None, :]"]
        for i, n in enumerate(reds):
            kind = red_kind(n)
            body.append(f"part{i} = tl.load(ws + ({i} * R + row) * SPLIT + s, mask=rmask, "
                        f"other={INIT[kind]})")  # fmt: skip
            body.append(f"{reg(n)} = {row_reduce(kind, f'part{i}', n in self.nan)}")
        post = Scope()
        self.after(reds, 1, post)  # one reduction level (can_split): the whole epilogue
        body += post.lines + self.stores(("row",))
        lines += indent(body, 4)
        return lines

    def body(self) -> list[str]:
        head = ["row = rb * ROWS + tl.arange(0, ROWS)[:, None]", "rmask = row < R"]
        if self.strided and self.kept:
            head += coords(self.kept, "row", "k", [f"K{i}" for i in range(len(self.kept))])
            if self.b.in_bounds:
                head += clamped(len(self.kept), "k", "K", "R")
        if self.p.get("split", 1) > 1:
            pre = Scope()
            self.rows_ready(0, pre)
            return head + pre.lines + self.split()
        if self.p["mode"] == "single":
            return head + self.single() + self.stores(("full", "row"))
        return head + self.looped() + self.stores(("row",))


def emit(b: Builder, p: dict[str, Any], name: str) -> Kernel:
    e = _Emitter(b, p)
    g = b.g
    body = e.body()
    if p.get("persistent"):
        code = ["for rb0 in range(tl.program_id(0), tl.cdiv(R, ROWS), tl.num_programs(0)):",
                "    rb = rb0", "    if I64:", "        rb = rb0.to(tl.int64)", *indent(body, 4)]  # fmt: skip
    else:
        code = ["rb = tl.program_id(0)", "if I64:", "    rb = rb.to(tl.int64)", *body]
    args = kernel_args(b)
    strides = [s for a in e.strided for s in stride_args(a, e.dims)]
    ksz = [f"K{i}" for i in range(1, len(e.kept))] if e.strided else []
    qsz = [f"Q{i}" for i in range(1, len(e.red))] if e.strided else []
    split = int(p.get("split", 1))
    extra = ["ws", "CS"] if split > 1 else []
    # the coordinate sizes are compile-time constants: the index split (// and %) is then a
    # multiply and shift, not a run-time integer division an element (a flat reduction
    # with a broadcast operand, ROWS=1, splits every column index)
    sizes = [f"{k}: tl.constexpr" for k in ksz + qsz]
    sig = [a for a, _ in args] + extra + ["R", "C"] + sizes + [s for s, _ in strides]
    consts = ", SPLIT: tl.constexpr, PHASE: tl.constexpr" if split > 1 else ""
    src = (
        "@triton.jit\n"
        f"def {name}({', '.join(sig)}, ROWS: tl.constexpr, BLOCK_C: tl.constexpr, "
        f"I64: tl.constexpr{consts}):\n" + "\n".join(indent(code, 4))
    )
    kept_shape = tuple(s for d, s in enumerate(g.shape) if d not in g.red_dims)
    red_shape = tuple(s for d, s in enumerate(g.shape) if d in g.red_dims)
    helpers = (ops.prelude(p), *combine_preludes(g, e.nan))
    launch = [out_alloc(node) for node, _ in b.stores]
    launch += [f"R = {numel_expr(kept_shape)}", f"C = {numel_expr(red_shape)}"]
    rows, warps, stages = p["ROWS"], p["num_warps"], p.get("num_stages", 1)
    block = "triton.next_power_of_2(C)" if p["mode"] == "single" else str(p["BLOCK_C"])
    if p.get("persistent"):
        grid = f"(max(1, min(triton.cdiv(R, {rows}), _num_sms(_dev) * {p['persistent']})),)"
    else:
        grid = f"(triton.cdiv(R, {rows}),)"
    ws = f"ws{g.gid}"
    call = [e_ for _, e_ in args] + ([ws, "CS"] if split > 1 else []) + ["R", "C"]
    if e.strided:
        call += [size_expr(g, d) for d in e.kept[1:]] + [size_expr(g, d) for d in e.red[1:]]
    call += [x for _, x in strides]
    tail = (
        f"ROWS={rows}, BLOCK_C={block}, I64=R * C >= 2**31, num_warps={warps}, num_stages={stages}"
    )
    if split > 1:
        nred = sum(1 for n in g.members if red_kind(n))
        launch += [
            f"{ws} = torch.empty(({nred}, R, {split}), dtype=torch.float32, device=_dev)",
            f"CS = triton.cdiv(triton.cdiv(C, {split}), {block}) * {block}",
            f"{name}[(triton.cdiv(R, {rows}), {split})]({', '.join(call)}, {tail}, "
            f"SPLIT={split}, PHASE=0)",
            f"{name}[(triton.cdiv(R, {rows}),)]({', '.join(call)}, {tail}, SPLIT={split}, PHASE=1)",
        ]
        return Kernel(name, src, launch, preludes=helpers)
    launch.append(f"{name}[{grid}]({', '.join(call)}, {tail})")
    return Kernel(name, src, launch, preludes=helpers)
