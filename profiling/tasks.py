"""Tasks in KernelBench format, with size presets and constant overrides.

A task is a Python file defining ``class Model(nn.Module)``, ``get_inputs()``
and ``get_init_inputs()``; any KernelBench problem file loads unchanged.
Bundled tasks may add optional module-level metadata:

- ``KIND = "softmax"``: the task family the strategy catalog's ``applies_to`` names
  (defaults to the file's stem);
- ``SIZES = {"smoke": {"batch": 4, "dim": 256}, ...}``: size presets, each a
  mapping of module-level constants to override; the file's own constants are
  the ``default`` size;
- ``DTYPE = "float32"``: the dtype name ``get_inputs`` uses (overridable like any
  constant, e.g. ``DTYPE=float32`` for the interpreter);
- ``def get_flops() -> int``: arithmetic work, for the roofline floor. A task
  without one may carry a count made above the harness (``Task.analysed_flops``:
  the graph analysis of its reference, attached by the tune entry point); the
  module's own ``get_flops`` wins (:func:`profiling.roofline.floor_flops`).

Module constants (:mod:`profiling.constants`) are resolved once, when the
`Task` is made: ``task.constants`` (with the size overrides applied) and
``task.module_source()`` (the source with the overridden assignments
rewritten, so constants derived from overridden ones follow) are computed
then and never re-parsed by consumers.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
import threading
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from profiling import constants as consts_mod
from profiling.constants import Constant

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# where exec_module writes sources it has no file for (the evaluation worker points it
# at its scratch folder, removed with the worker); default: a folder in the temp dir
SOURCE_DIR_ENV = "KB_SOURCE_DIR"
# Where bare task names are looked up when the caller gives no ``tasks_dir``. The
# bundled tasks belong to `experiments`, which passes its folder explicitly; this
# default only keeps older callers (the benchmark scripts) working until they do.


# CPython 3.11 converts ASTs with interpreter-wide recursion bookkeeping that breaks
# when two threads parse at once ("AST constructor recursion depth mismatch", seen
# here with concurrent LLM realizations building prompts): every AST parse in the
# project goes through this lock.
_AST_LOCK = threading.Lock()


def parse_python(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse`` that is safe to call from several threads."""
    with _AST_LOCK:
        return ast.parse(source, filename=filename)


def module_defines_model_new(tree: ast.Module) -> bool:
    """Whether a module binds ``ModelNew`` at top level (class, def, assignment or import)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == "ModelNew":
            return True
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "ModelNew" for t in targets):
                return True
        if isinstance(node, ast.Import | ast.ImportFrom) and any(
            (a.asname or a.name) == "ModelNew" for a in node.names
        ):
            return True
    return False


class TaskError(ValueError):
    """A user-caused problem with a task: missing file, bad size, not KernelBench."""


@dataclass(frozen=True)
class Task:
    """A KernelBench task at one size. ``constants``: the module's constants at this size.

    ``analysed_flops``: the arithmetic of the reference at this size as counted outside
    the module (the graph analysis, :mod:`bandit.flops`), for the roofline floor of a
    task whose module defines no ``get_flops``; None when not counted. It belongs to
    the size: `with_size` drops it.
    """

    name: str
    path: str
    source: str
    kind: str
    size: str = "default"
    overrides: Mapping[str, Constant] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, Constant]] = field(default_factory=dict)
    analysed_flops: int | None = None
    constants: Mapping[str, Constant] = field(init=False, repr=False, compare=False)
    _module_source: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tree = parse_python(self.source, filename=self.path)
        object.__setattr__(self, "constants", consts_mod.resolve(tree, self.overrides))
        object.__setattr__(self, "_module_source", _overridden(self.source, tree, self.overrides))

    def module_source(self) -> str:
        """The task source with this task's constant overrides applied."""
        return self._module_source

    def load_module(self) -> types.ModuleType:
        """Execute the (overridden) source as a fresh module. Imports torch."""
        return exec_module(self.module_source(), f"kb_task_{self.name}", self.path)

    def with_size(self, spec: str | None) -> Task:
        """The same task at another size (preset name or ``k=v,...``)."""
        known = consts_mod.resolve(parse_python(self.source, filename=self.path))
        overrides = resolve_size(self.presets, spec, known)
        return replace(self, size=spec or "default", overrides=overrides, analysed_flops=None)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "source": self.source,
            "kind": self.kind,
            "size": self.size,
            "overrides": dict(self.overrides),
            "presets": {k: dict(v) for k, v in self.presets.items()},
        }
        if self.analysed_flops is not None:  # absent when None: the dict is as before
            d["analysed_flops"] = self.analysed_flops
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Task:
        return cls(**d)


def bundled_task_names(tasks_dir: Path) -> list[str]:
    """Task names in ``tasks_dir`` (files ``<name>.py``)."""
    return sorted(p.stem for p in tasks_dir.glob("*.py") if not p.name.startswith("_"))


def find_task_file(name_or_path: str, tasks_dir: Path | None = None) -> Path:
    """A path as given, or a bare name looked up in ``tasks_dir`` (the caller's folder of
    named tasks: ``experiments.TASKS_DIR`` for the bundled ones; this module knows none)."""
    p = Path(name_or_path).expanduser()
    if p.suffix == ".py" or "/" in name_or_path:
        if not p.is_file():
            raise TaskError(f"task file not found: {name_or_path}")
        return p.resolve()
    if tasks_dir is None:
        raise TaskError(f"task {name_or_path!r} is a bare name and no tasks folder was given: "
                        f"pass the path of its file")
    cand = tasks_dir / f"{name_or_path}.py"
    if cand.is_file():
        return cand
    known = ", ".join(bundled_task_names(tasks_dir)) or "none"
    raise TaskError(f"unknown task {name_or_path!r} (bundled tasks: {known})")


def load_task(
    name_or_path: str, size: str | None = None, tasks_dir: Path | None = None
) -> Task:
    """Load a task by bundled name or file path, at a size (preset or ``k=v,...``)."""
    path = find_task_file(name_or_path, tasks_dir)
    try:
        source = path.read_text()
        tree = parse_python(source, filename=str(path))
    except (OSError, UnicodeDecodeError) as e:
        raise TaskError(f"cannot read task file {path}: {e}") from e
    except SyntaxError as e:
        raise TaskError(f"task file {path} is not valid Python: {e.msg} (line {e.lineno})") from e
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    missing = {"Model", "get_inputs", "get_init_inputs"} - defined
    if missing:
        raise TaskError(f"{path} is not a KernelBench task: missing {', '.join(sorted(missing))}")
    consts = consts_mod.resolve(tree)
    presets = _literal(tree, "SIZES") or {}
    if not isinstance(presets, dict):
        raise TaskError(f"{path}: SIZES must be a dict of presets")
    kind = _literal(tree, "KIND") or path.stem
    task = Task(name=path.stem, path=str(path), source=source, kind=str(kind), presets=presets)
    return replace(task, size=size or "default", overrides=resolve_size(presets, size, consts))


def constants(source: str) -> dict[str, Constant]:
    """A module's constants (see :mod:`profiling.constants`); a `Task` has them as ``constants``."""
    return consts_mod.resolve(parse_python(source))


def parse_value(text: str) -> Constant:
    t = text.strip()
    if t and t[0] in "([":
        try:
            v = ast.literal_eval(t)
        except (ValueError, SyntaxError) as e:
            raise TaskError(f"cannot read {t!r} as a tuple of constants") from e
        return tuple(v) if isinstance(v, list | tuple) else v
    if t in ("True", "true"):
        return True
    if t in ("False", "false"):
        return False
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t.strip("'\"")


def resolve_size(
    presets: Mapping[str, Mapping[str, Constant]],
    spec: str | None,
    known: Mapping[str, Constant],
) -> dict[str, Constant]:
    """Turn ``"smoke"``, ``"dim=1024,batch=2"`` or ``"smoke,dim=64"`` into overrides.

    A tuple is written in parentheses: ``input_shape=(1024,),batch_size=2``.
    """
    out: dict[str, Constant] = {}
    if not spec or spec == "default":
        return out
    for item in _split_spec(spec):
        if not item:
            continue
        if "=" in item:
            k, v = (x.strip() for x in item.split("=", 1))
            if k not in known:
                names = ", ".join(sorted(known)) or "none"
                raise TaskError(f"unknown size constant {k!r} (module constants: {names})")
            out[k] = parse_value(v)
        elif item in presets:
            out.update(presets[item])
        else:
            names = ", ".join(["default", *presets]) if presets else "default"
            raise TaskError(f"unknown size preset {item!r} (presets: {names}; or give k=v,...)")
    return out


def _split_spec(spec: str) -> list[str]:
    """Split ``a=1,shape=(2,3),smoke`` at the commas outside parentheses."""
    items, depth, cur = [], 0, ""
    for ch in spec:
        depth += (ch in "([") - (ch in ")]")
        if ch == "," and depth == 0:
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    items.append(cur.strip())
    return items


def apply_overrides(source: str, overrides: Mapping[str, Constant]) -> str:
    """``source`` with the assignments of the overridden constants rewritten."""
    return _overridden(source, parse_python(source), overrides)


def _overridden(source: str, tree: ast.Module, overrides: Mapping[str, Constant]) -> str:
    if not overrides:
        return source
    new, seen = consts_mod.rewrite(tree, overrides)
    missing = set(overrides) - seen
    if missing:
        raise TaskError(f"no module-level constant named {', '.join(sorted(missing))}")
    with _AST_LOCK:
        return ast.unparse(new)


def exec_module(source: str, name: str, filename: str | None = None) -> types.ModuleType:
    """Execute source as a fresh module object (not registered in ``sys.modules``).

    The source is written to a content-addressed file first (unless ``filename``
    names an existing file with exactly this text) so that ``inspect.getsource``
    works: Triton's ``@jit`` needs it, in the interpreter too. The file goes to
    ``$KB_SOURCE_DIR`` when set (the worker's scratch folder), else to a folder in
    the temp dir.
    """
    path = Path(filename) if filename else None
    if path is None or not path.is_file() or path.read_text() != source:
        digest = hashlib.sha256(source.encode()).hexdigest()[:20]
        folder = Path(
            os.environ.get(SOURCE_DIR_ENV) or Path(tempfile.gettempdir()) / "kernel-bandit-src"
        )
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}_{digest}.py"
        if not path.is_file():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(source)
            tmp.replace(path)
    mod = types.ModuleType(name)
    mod.__file__ = str(path)
    code = compile(source, str(path), "exec")
    exec(code, mod.__dict__)  # noqa: S102 - executing task/candidate code is the point
    return mod


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        t = node.targets[0]
        if isinstance(t, ast.Name):
            return t.id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        return node.target.id, node.value
    return None, None


def _literal(tree: ast.Module, name: str) -> Any:
    for node in tree.body:
        target, value = _assignment(node)
        if target == name and value is not None:
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError) as e:
                raise TaskError(f"{name} must be a literal: {e}") from e
    return None


def task_key(task: Task) -> str:
    """One task at one size: a key for what a worker remembers per task."""
    return json.dumps([task.name, task.size, sorted(task.overrides.items())], default=str)
