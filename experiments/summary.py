"""The end-of-run summary as rows of facts, rendered for a terminal or for a log.

`summary_rows` and `family_rows` compute the facts once; `render_tables` draws
them as rich tables (a terminal), `render_plain` as aligned plain text that never
wraps or truncates a path or a number (a log file, CI, ``tee``); report.html
uses the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table

from bandit.records import TuneResult
from experiments.keep import Outcome, fmt_x

FAMILY_COLUMNS = (
    "family",
    "pulls",
    "correct",
    "best x ref",
    "mean reward",
    "tokens",
    "USD",
)
FAMILY_NOTE = (
    "best x ref: the family's fastest correct kernel against the reference; "
    "mean reward: gain over the parent kernel each pull earned (0 when slower or wrong), "
    "so it can be positive while the reference stays fastest"
)


def _x(v: float | None) -> str:
    return fmt_x(v) if v else "not measured"


def summary_rows(
    result: TuneResult,
    info: Mapping[str, str],
    out: Outcome,
    kept: Sequence[tuple[str, str]],
    mlflow: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """One (label, value) row per fact: the run, what it found, what it spent."""
    m = out.best.member.measurement
    interp = m.timing_kind == "interpreter"
    last = result.records[-1] if result.records else None
    rows = list(info.items())
    rows.extend(kept)
    rows.append(
        ("speedup over eager", _x(out.best.speedup) + (" (interpreter time)" if interp else ""))
    )
    rows.append(("speedup over torch.compile", _x(m.speedup_vs_compile)))
    rt = out.best.runtime_ms
    rows.append(
        ("best runtime", f"{rt:.4f} ms" + (" (interpreter)" if interp else "") if rt else "-")
    )
    rows.append(("iterations", str(len(result.records))))
    rows.append(
        (
            "tokens (prompt / completion)",
            f"{last.tokens_prompt:,} / {last.tokens_completion:,}" if last else "0 / 0",
        )
    )
    rows.append(("cost", f"${last.cost_usd:.4f}" if last else "$0.0000"))
    rows.append(("wall time", f"{last.wall_s:.1f} s" if last else "0.0 s"))
    rows.append(("stop reason", result.stop_reason))
    rows.extend(mlflow)
    return rows


def family_rows(result: TuneResult) -> list[tuple[str, ...]]:
    best: dict[str, float] = {}
    for r in result.records:
        if r.status == "ok" and r.speedup:
            best[r.arm.family] = max(best.get(r.arm.family, 0.0), r.speedup)
    rows = []
    for fam, s in result.by_family().items():
        rows.append(
            (
                str(fam),
                str(s.pulls),
                str(s.successes),
                fmt_x(best[fam]) if fam in best else "-",
                f"{s.mean_reward:.3f}",
                f"{s.tokens:,}",
                f"{s.usd:.4f}",
            )
        )
    return rows


def render_tables(
    rows: Sequence[tuple[str, str]], families: Sequence[tuple[str, ...]]
) -> tuple[Table, Table]:
    t = Table(title="kernel-bandit run", show_header=False, title_justify="left")
    t.add_column("", style="bold", no_wrap=True)
    t.add_column("", overflow="fold")
    for k, v in rows:
        t.add_row(k, v)
    f = Table(title="per family", title_justify="left", caption=FAMILY_NOTE, caption_justify="left")
    for col in FAMILY_COLUMNS:
        f.add_column(col, justify="left" if col == "family" else "right", no_wrap=True)
    for row in families:
        f.add_row(*row)
    return t, f


def render_plain(rows: Sequence[tuple[str, str]], families: Sequence[tuple[str, ...]]) -> str:
    """Aligned plain text: full values, no wrapping, no truncation, no colour codes."""
    lines = ["kernel-bandit run"]
    width = max((len(k) for k, _ in rows), default=0)
    lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
    lines.append("per family")
    table = [FAMILY_COLUMNS, *families]
    widths = [max(len(r[i]) for r in table) for i in range(len(FAMILY_COLUMNS))]
    for r in table:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    lines.append("  (" + FAMILY_NOTE + ")")
    return "\n".join(lines)
