"""compute-sanitizer's memcheck report, parsed into typed records.

memcheck (``compute-sanitizer --tool memcheck``) prints one block per device
error, every line behind its prefix (``========= `` by default)::

    ========= Invalid __global__ read of size 16 bytes
    =========     at _relu+0x170 in /tmp/kb-sanitize-x/src/kb_candidate_ab12.py:11
    =========     by thread (96,0,0) in block (4,0,0)
    =========     Address 0x7f3c5e000a04 is out of bounds
    =========     and is 4 bytes after the nearest allocation at 0x7f3c5e000000 of size 2,564 bytes

and ends with ``========= ERROR SUMMARY: N errors``. Host API errors (``Program hit
cudaError...``) are switched off on the command line (``--report-api-errors no``):
only device memory errors count here. `parse` keeps every access error (invalid
global/shared/local/generic read, write or atomic; misaligned or out-of-range
addresses; illegal-address hardware exceptions) with its kernel and where it
landed, and the summary's count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PREFIX = re.compile(r"^=+\s?")
_ACCESS = re.compile(
    r"^Invalid (?:(__\w+__) )?(read|write|atomic)\b.*?\bof size ([\d,]+)(?: bytes?)?", re.I
)
_OTHER = re.compile(
    r"^(Out-of-range Shared or Local Address|Misaligned Shared or Local Address|"
    r"Warp (?:Illegal|Out-of-range|Misaligned) Address|Lane (?:Illegal|Misaligned) Address)",
    re.I,
)
_AT = re.compile(r"^at (?:0x[0-9a-f]+ in )?(.+?)(?:\+0x[0-9a-f]+)?(?: in (\S+))?$", re.I)
_WHERE = re.compile(r"^and is (.+)$", re.I)
_ADDRESS = re.compile(r"^Address 0x[0-9a-f]+ (is .+)$", re.I)
_SUMMARY = re.compile(r"ERROR SUMMARY:\s*([\d,]+) errors?", re.I)


@dataclass(frozen=True)
class AccessError:
    """One device memory error memcheck reported."""

    kind: str  # "read", "write", "atomic", or the error's own title
    space: str  # "global", "shared", "local", "generic", or "" when memcheck names none
    size: int | None  # bytes of the access
    kernel: str  # the kernel (and offset stripped) memcheck attributes it to
    address: str  # "is out of bounds", "is misaligned", ... ("" when not printed)
    where: str  # "4 bytes after the nearest allocation at 0x... of size 2,564 bytes" or ""

    @property
    def out_of_bounds(self) -> bool:
        return "out of bounds" in self.address or "out-of-range" in self.kind.lower() or (
            "after the nearest allocation" in self.where
            or "before the nearest allocation" in self.where
        )

    def describe(self) -> str:
        what = (
            f"invalid {'__' + self.space + '__ ' if self.space else ''}{self.kind}"
            + (f" of size {self.size}" if self.size is not None else "")
            if self.kind in ("read", "write", "atomic")
            else self.kind
        )
        tail = f" ({_short(self.where)})" if self.where else ""
        return f"{what}{' in ' + self.kernel if self.kernel else ''}{tail}"


@dataclass(frozen=True)
class MemcheckReport:
    """Every device memory error of one run, and the summary's count (None: no summary,
    e.g. the run was cut short)."""

    errors: tuple[AccessError, ...] = ()
    total: int | None = None

    @property
    def clean(self) -> bool:
        return not self.errors and self.total == 0

    @property
    def complete(self) -> bool:
        return self.total is not None

    def reason(self) -> str | None:
        """One line naming the first error and how many there were; None when there is none."""
        if not self.errors:
            return None
        first = self.errors[0]
        n = max(self.total or 0, len(self.errors))
        label = "out-of-bounds memory access" if first.out_of_bounds else "invalid memory access"
        more = f"; {n} error{'s' if n != 1 else ''} in all" if n > 1 else ""
        return f"{label} (compute-sanitizer memcheck): {first.describe()}{more}"


def _short(where: str) -> str:
    # "4 bytes after the nearest allocation at 0x7f.. of size 2,564 bytes"
    # -> "4 bytes after an allocation of 2,564 bytes"
    m = re.match(r"(.*?) the nearest allocation at 0x[0-9a-f]+ of size (.+)$", where, re.I)
    return f"{m.group(1)} an allocation of {m.group(2)}" if m else where


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def parse(text: str) -> MemcheckReport:
    """The device memory errors and the summary of memcheck's output (its log file, or
    stdout/stderr: lines without memcheck's prefix are ignored)."""
    errors: list[AccessError] = []
    total: int | None = None
    current: dict[str, object] | None = None

    def close() -> None:
        nonlocal current
        if current is not None:
            errors.append(AccessError(**current))  # type: ignore[arg-type]
            current = None

    for raw in text.splitlines():
        if not _PREFIX.match(raw):
            continue
        line = _PREFIX.sub("", raw, count=1).strip()
        m = _SUMMARY.search(line)
        if m:
            close()
            total = _int(m.group(1))
            continue
        access, other = _ACCESS.match(line), _OTHER.match(line)
        if access or other:
            close()
            current = {"kind": (access.group(2).lower() if access else other.group(1)),  # type: ignore[union-attr]
                       "space": (access.group(1) or "").strip("_").lower() if access else "",
                       "size": _int(access.group(3)) if access else None,
                       "kernel": "", "address": "", "where": ""}
            continue
        if current is None:
            continue
        if not line:
            close()
            continue
        at, addr, where = _AT.match(line), _ADDRESS.match(line), _WHERE.match(line)
        if at and not current["kernel"]:
            current["kernel"] = at.group(1).strip()
        elif addr:
            current["address"] = addr.group(1).strip()
        elif where:
            current["where"] = where.group(1).strip()
    close()
    return MemcheckReport(tuple(errors), total)
