"""Recorded landscapes: what every kernel of a search space measured, on one GPU.

A landscape maps a kernel's source hash to its measurements (median and spread
per shape, counters, evaluation seconds, status) for one task at one size on one
GPU, recorded with one realizer version. The replay evaluator
(:mod:`profiling.replay`) serves it so any policy runs through the real tuner on
a CPU, in seconds.

File format (versioned JSON lines, optionally gzipped when the name ends in
``.gz``; appending is crash-safe, so a recording resumes where it stopped)::

    {"format": "kernel-bandit-landscape", "version": 1, "header": {...}}
    {"hash": "9f2c...", "depth": 1, "chain": ["tiling/row_in_registers"], "m": {...}}
    ...

The first line is the `LandscapeHeader`; each further line is one measurement
of one kernel (``m``: `Measurement.to_dict` less derived and empty fields). A
hash on several lines has several samples (repeated evaluations). ``depth`` is
the number of strategy moves from the task's reference program (0: the
reference itself, which the tuner measures first), ``chain`` those moves.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from profiling.hardware import GpuFacts
from profiling.measurement import Measurement

FORMAT = "kernel-bandit-landscape"
VERSION = 1
_DERIVED = (
    "runtime_ms",
    "ref_runtime_ms",
    "compile_runtime_ms",
    "speedup",
    "roofline_fraction",
)


class LandscapeError(ValueError):
    """A landscape file is missing, of another format or version, or broken (one line)."""


def source_hash(source: str) -> str:
    """Content hash that ignores trailing whitespace and blank lines at either end."""
    text = "\n".join(line.rstrip() for line in source.splitlines()).strip("\n")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def software_versions() -> dict[str, str]:
    """The versions of the libraries that shape a recording's kernels (torch, triton)."""
    import torch

    out = {"torch": str(torch.__version__).split("+")[0]}
    try:
        import triton

        out["triton"] = str(triton.__version__)
    except ImportError:  # a CPU-only machine without triton records torch alone
        pass
    return out


def minor_version(v: str) -> str:
    """ "2.11.0" -> "2.11": what the recorded and the running torch are compared by."""
    return ".".join(v.split(".")[:2])


@dataclass(frozen=True)
class LandscapeHeader:
    task: str
    size: str
    kind: str
    device: str  # where the kernels ran: "cuda" (or "synthetic" for generated test data)
    gpu: GpuFacts
    realizer: str
    realizer_version: str  # fingerprint of the realizer's code: other versions write other sources
    reference_hash: str  # the task's reference program as a candidate
    mode: str = ""  # how the space was walked, e.g. "depth 2", "best-first 40"
    settings: Mapping[str, Any] = field(default_factory=dict)  # the evaluation settings
    recorded_at: str = ""
    synthetic: bool = False  # generated, not measured: for tests only
    note: str = ""
    # recorded with lighter settings than a tuning run's: evaluation seconds x this ~ the
    # seconds the tune app's device=cuda settings take (calibrated on the reference)
    seconds_scale: float = 1.0
    # library versions of the recording ({"torch": "2.11.0", "triton": "3.6.0"}; {} when
    # unknown): the graph templates capture the reference through torch, and another torch
    # can decompose an op differently, so the same realizer then writes other kernels
    software: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gpu"] = self.gpu.to_dict()
        d["settings"] = dict(self.settings)
        d["software"] = dict(self.software)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LandscapeHeader:
        try:
            return cls(
                task=str(d["task"]),
                size=str(d["size"]),
                kind=str(d["kind"]),
                device=str(d["device"]),
                gpu=GpuFacts.from_dict(dict(d.get("gpu") or {})),
                realizer=str(d["realizer"]),
                realizer_version=str(d["realizer_version"]),
                reference_hash=str(d["reference_hash"]),
                mode=str(d.get("mode", "")),
                settings=dict(d.get("settings") or {}),
                recorded_at=str(d.get("recorded_at", "")),
                synthetic=bool(d.get("synthetic", False)),
                note=str(d.get("note", "")),
                seconds_scale=float(d.get("seconds_scale", 1.0)),
                software={str(k): str(v) for k, v in dict(d.get("software") or {}).items()},
            )
        except KeyError as e:
            raise LandscapeError(f"landscape header lacks {e.args[0]!r}") from None


@dataclass(frozen=True)
class Entry:
    """One kernel of a landscape and every sample recorded for it."""

    hash: str
    samples: tuple[Measurement, ...]
    depth: int = 0
    chain: tuple[str, ...] = ()  # strategy ids applied, from the reference program on

    @property
    def best_ms(self) -> float | None:
        times = [m.runtime_ms for m in self.samples if m.ok and m.runtime_ms]
        return min(times) if times else None

    @property
    def eval_seconds(self) -> float:
        """Mean recorded evaluation seconds."""
        return sum(m.wall_s for m in self.samples) / len(self.samples) if self.samples else 0.0


@dataclass(frozen=True)
class Landscape:
    header: LandscapeHeader
    entries: Mapping[str, Entry]
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, h: object) -> bool:
        return h in self.entries

    def get(self, h: str) -> Entry | None:
        return self.entries.get(h)

    @property
    def max_depth(self) -> int:
        return max((e.depth for e in self.entries.values()), default=0)

    def describe(self) -> str:
        where = str(self.path) if self.path else "<memory>"
        kind = "synthetic" if self.header.synthetic else self.header.gpu.name
        return (
            f"{where} ({self.header.task} at size {self.header.size}, {len(self)} kernels, "
            f"{self.header.mode or 'unknown mode'}, {kind})"
        )

    def check_task(self, name: str, size: str) -> None:
        """Raise LandscapeError unless this landscape was recorded for task `name` at `size`."""
        h = self.header
        if (h.task, h.size) != (name, size):
            raise LandscapeError(
                f"landscape {self.path or ''} was recorded for task {h.task!r} at size "
                f"{h.size!r}, not {name!r} at size {size!r}"
            )


# -- files --------------------------------------------------------------------------


def landscape_path(folder: Path, task: str, size: str = "default") -> Path:
    """The landscape of `task` at `size` in `folder` (experiments/landscapes for the committed ones)."""
    stem = task if size == "default" else f"{task}@{_safe(size)}"
    return folder / f"{stem}.jsonl"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_=," else "_" for c in text)


def _open(path: Path, mode: str) -> TextIO:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, mode.replace("t", "") + "b"), encoding="utf-8")
    return open(path, mode.replace("t", ""), encoding="utf-8")


def compact(m: Measurement) -> dict[str, Any]:
    """A measurement as stored: derived fields and empty values left out."""
    d = m.to_dict()
    for key in _DERIVED:
        d.pop(key, None)
    return {k: v for k, v in d.items() if v not in ("", None, {}, [], ())}


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with _open(path, "rt") as f:
            for no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    # a recording killed mid-line leaves one partial last line: skip it
                    continue
                if isinstance(obj, dict):
                    yield no, obj
    except OSError as e:
        raise LandscapeError(f"cannot read landscape {path}: {e.strerror or e}") from None
    except EOFError:
        return  # a gzipped recording killed before closing: every flushed line was read
    except gzip.BadGzipFile as e:
        raise LandscapeError(f"landscape {path} is not a readable gzip file: {e}") from None


def load_landscape(path: str | Path) -> Landscape:
    path = Path(path)
    if not path.is_file():
        raise LandscapeError(f"no landscape file at {path}")
    header: LandscapeHeader | None = None
    samples: dict[str, list[Measurement]] = {}
    meta: dict[str, tuple[int, tuple[str, ...]]] = {}
    for no, obj in _lines(path):
        if header is None:
            if obj.get("format") != FORMAT:
                raise LandscapeError(f"{path} is not a kernel-bandit landscape")
            if obj.get("version") != VERSION:
                raise LandscapeError(
                    f"{path} is landscape format version {obj.get('version')!r}; "
                    f"this code reads version {VERSION} (record it again)"
                )
            header = LandscapeHeader.from_dict(obj.get("header") or {})
            continue
        try:
            h = str(obj["hash"])
            m = Measurement.from_dict(obj["m"])
        except (KeyError, TypeError, ValueError) as e:
            raise LandscapeError(f"{path}:{no}: broken entry ({e})") from None
        samples.setdefault(h, []).append(m)
        meta.setdefault(h, (int(obj.get("depth", 0)), tuple(obj.get("chain") or ())))
    if header is None:
        raise LandscapeError(f"{path} is empty (no landscape header)")
    entries = {
        h: Entry(h, tuple(ms), depth=meta[h][0], chain=meta[h][1]) for h, ms in samples.items()
    }
    return Landscape(header, entries, path)


def rewrite_header(path: str | Path, **changes: str) -> dict[str, Any]:
    """Set header fields of the landscape at `path` in place (atomically: a temporary file
    renamed over it); every other line stays byte-identical (in the uncompressed text of a
    ``.gz``). Returns the new header mapping."""
    path = Path(path)
    gz = path.suffix == ".gz"
    try:
        data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise LandscapeError(f"cannot read landscape {path}: {e}") from None
    first, _, rest = data.partition(b"\n")
    try:
        obj = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        obj = None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise LandscapeError(f"{path} is not a kernel-bandit landscape")
    header = dict(obj.get("header") or {})
    header.update(changes)
    obj["header"] = header
    line = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    out = line + rest
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(gzip.compress(out) if gz else out)
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise LandscapeError(f"cannot rewrite landscape {path}: {e.strerror or e}") from None
    return header


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return True
        f.seek(-1, 2)
        return f.read(1) == b"\n"


class LandscapeWriter:
    """Appends entries to a landscape file, one flushed line each (a context manager).

    Opening an existing file checks its header against `header` (same task, size,
    GPU and realizer version) so a resumed recording never mixes landscapes.
    """

    def __init__(self, path: str | Path, header: LandscapeHeader) -> None:
        self.path = Path(path)
        self.header = header
        self.existing: Landscape | None = None
        if self.path.exists():
            self.existing = load_landscape(self.path)
            old = self.existing.header
            for key in ("task", "size", "device", "realizer", "realizer_version"):
                if getattr(old, key) != getattr(header, key):
                    hint = (
                        " or, if only the code changed, see python -m experiments.check_landscape"
                        if key == "realizer_version"
                        else ""
                    )
                    raise LandscapeError(
                        f"{self.path} holds another landscape ({key} {getattr(old, key)!r}, "
                        f"not {getattr(header, key)!r}); choose another --out{hint}"
                    )
            if old.gpu.name != header.gpu.name:
                raise LandscapeError(
                    f"{self.path} was recorded on {old.gpu.name}, not {header.gpu.name}"
                )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        gz_resume = self.existing is not None and self.path.suffix == ".gz"
        # a gzip stream cannot be appended to after an unclean end: rewrite it whole
        self._f = _open(self.path, "wt" if gz_resume else "at")
        if self.existing is not None and not gz_resume and not _ends_with_newline(self.path):
            self._f.write("\n")  # a line cut off by a killed recording stays on its own
        if self.existing is None or gz_resume:
            self._write({"format": FORMAT, "version": VERSION, "header": self._header_dict()})
        if gz_resume and self.existing is not None:
            for e in self.existing.entries.values():
                for m in e.samples:
                    self.add(e.hash, m, e.depth, e.chain)

    def _header_dict(self) -> dict[str, Any]:
        return (self.existing.header if self.existing else self.header).to_dict()

    def add(self, h: str, m: Measurement, depth: int = 0, chain: tuple[str, ...] = ()) -> None:
        self._write({"hash": h, "depth": depth, "chain": list(chain), "m": compact(m)})

    def _write(self, obj: Mapping[str, Any]) -> None:
        self._f.write(json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> LandscapeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
