"""``report.html``: one self-contained page per run, readable with no server.

It holds the summary rows (the same facts the terminal prints), the per-family
table, the figures (embedded as base64 PNG, so the file can be mailed or moved
alone), the strategy chain that led to the best candidate, and the best
kernel's source.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from experiments.summary import FAMILY_COLUMNS, FAMILY_NOTE

REPORT = "report.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.facts td:first-child { font-weight: 600; white-space: nowrap; }
.facts td { word-break: break-all; }
ol.chain li { margin: .15em 0; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; font-size: .85em; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: .9em; }
p.note { color: #555; font-size: .9em; }
"""


@dataclass(frozen=True)
class ReportData:
    title: str
    rows: Sequence[tuple[str, str]]  # (label, value)
    families: Sequence[tuple[str, ...]]  # FAMILY_COLUMNS
    chain: Sequence[str] = ()  # strategy ids, reference first excluded
    chain_label: str = "best candidate"
    source_label: str = "best_kernel.py"
    source: str = ""
    figures: Sequence[Path] = field(default_factory=tuple)


def render(data: ReportData) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(data.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(data.title)}</h1>",
        '<h2>Summary</h2><table class="facts">',
    ]
    parts += [f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in data.rows]
    parts.append("</table>")

    parts.append(f"<h2>Strategy chain of the {e(data.chain_label)}</h2>")
    if data.chain:
        parts.append('<ol class="chain" start="0"><li>reference</li>')
        parts += [f"<li>{e(s)}</li>" for s in data.chain]
        parts.append("</ol>")
    else:
        parts.append("<p>No correct candidate: only the reference was measured correct.</p>")

    parts.append("<h2>Per family</h2><table><tr>")
    parts += [f'<th class="{"" if c == "family" else "num"}">{e(c)}</th>' for c in FAMILY_COLUMNS]
    parts.append("</tr>")
    for row in data.families:
        cells = [f'<td class="{"" if i == 0 else "num"}">{e(c)}</td>' for i, c in enumerate(row)]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append(f'</table><p class="note">{e(FAMILY_NOTE)}</p>')

    parts.append("<h2>Figures</h2>")
    shown = 0
    for path in data.figures:
        if not Path(path).is_file():
            continue
        b64 = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        name = e(Path(path).name)
        parts.append(
            f'<figure><img alt="{name}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{name}</figcaption></figure>"
        )
        shown += 1
    if not shown:
        parts.append("<p>No figures were written for this run.</p>")

    parts.append(f"<h2>{e(data.source_label)}</h2>")
    parts.append(f"<pre><code>{e(data.source)}</code></pre>" if data.source else "<p>-</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(data: ReportData, run_dir: Path) -> Path:
    path = Path(run_dir) / REPORT
    path.write_text(render(data), encoding="utf-8")
    return path
