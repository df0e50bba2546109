"""A static check of candidate source, before any of it runs.

A kernel needs torch, triton (or cupy/numpy/math) and little else. Imports and
names that only serve to escape the harness are rejected with the reason:

- processes: ``subprocess``, ``multiprocessing``, ``os.system``/``os.fork``/
  ``os.exec*``/``os.spawn*``/``os.kill``/``os.popen``, ``pty``, ``signal``;
- network: ``socket``, ``ssl``, ``http``, ``urllib``, ``requests``, ``httpx``,
  ``aiohttp``, ``ftplib``, ``smtplib``, ``asyncio``;
- foreign functions: ``ctypes``, ``cffi``, ``mmap``;
- threads (work deferred past the call's return): ``threading``, ``_thread``,
  ``concurrent``;
- introspection that reaches the harness's or the reference's objects:
  ``gc``, ``inspect``, ``sys.modules``, ``sys._getframe``, ``sys.settrace``,
  ``sys.setprofile``, frame/code/globals attributes (``f_back``,
  ``__globals__``, ``__code__``, ``__subclasses__``, ...), ``builtins``,
  ``importlib``, ``__import__``, ``exec``/``eval``/``compile``;
- the harness itself (``profiling``, ``bandit``, ``experiments``,
  ``strategies``, ``kb_task_*``) and ``pickle``/``marshal``/``shutil``.

This is defence in depth, not the only line: the worker also checks
namespaces, threads, outputs and file/network access at run time.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from profiling.tasks import parse_python

FORBIDDEN_MODULES: dict[str, str] = {
    **dict.fromkeys(
        ("subprocess", "multiprocessing", "pty", "signal", "resource", "sched"),
        "starts or controls processes",
    ),
    **dict.fromkeys(
        (
            "socket",
            "ssl",
            "http",
            "urllib",
            "urllib3",
            "requests",
            "httpx",
            "aiohttp",
            "ftplib",
            "smtplib",
            "telnetlib",
            "asyncio",
            "selectors",
            "xmlrpc",
            "webbrowser",
        ),
        "opens network connections",
    ),
    **dict.fromkeys(("ctypes", "cffi", "mmap", "_ctypes"), "calls foreign code or maps memory"),
    **dict.fromkeys(("threading", "_thread", "concurrent"), "defers work to a thread"),
    **dict.fromkeys(
        ("gc", "inspect", "importlib", "builtins", "traceback", "tracemalloc", "types", "code"),
        "introspects the interpreter (could reach the harness's objects)",
    ),
    **dict.fromkeys(
        ("profiling", "bandit", "experiments", "strategies", "tests"),
        "imports the harness",
    ),
    **dict.fromkeys(
        ("pickle", "marshal", "shelve", "shutil", "tempfile", "glob", "pathlib"),
        "touches files or serialized code",
    ),
}
FORBIDDEN_ATTRS: dict[str, str] = {
    **{
        f"os.{n}": "starts or controls processes"
        for n in (
            "system",
            "popen",
            "fork",
            "forkpty",
            "kill",
            "killpg",
            "execv",
            "execve",
            "execl",
            "execle",
            "execlp",
            "execvp",
            "execvpe",
            "spawnv",
            "spawnl",
            "spawnve",
            "posix_spawn",
            "posix_spawnp",
            "_exit",
            "abort",
        )
    },
    **{
        f"os.{n}": "touches files outside the kernel's work"
        for n in ("listdir", "scandir", "walk", "remove", "unlink", "rename", "open", "chdir")
    },
    **{
        f"sys.{n}": "introspects the interpreter (could reach the harness's objects)"
        for n in (
            "modules",
            "_getframe",
            "settrace",
            "setprofile",
            "addaudithook",
            "meta_path",
            "path_hooks",
            "exc_info",
            "exception",
            "last_traceback",
            "_current_frames",
        )
    },
}
FORBIDDEN_DUNDERS = frozenset(
    {
        "__globals__",
        "__code__",
        "__closure__",
        "__subclasses__",
        "__builtins__",
        "__import__",
        "__loader__",
        "__spec__",
        "f_back",
        "f_globals",
        "f_locals",
        "f_builtins",
        "tb_frame",
        "gi_frame",
        "cr_frame",
        "ag_frame",
    }
)
FORBIDDEN_CALLS: dict[str, str] = {
    "exec": "runs code the check cannot see",
    "eval": "runs code the check cannot see",
    "compile": "runs code the check cannot see",
    "__import__": "imports modules the check cannot see",
    "globals": "introspects the interpreter (could reach the harness's objects)",
    "vars": "introspects the interpreter (could reach the harness's objects)",
    "breakpoint": "starts a debugger",
    "open": "touches files outside the kernel's work",
}


@dataclass(frozen=True)
class Finding:
    line: int
    what: str
    why: str

    def text(self) -> str:
        return f"forbidden {self.what} (line {self.line}): {self.why}"


def check_source(source: str) -> Finding | None:
    """The first forbidden construct in ``source``, or None (syntax errors: None; compile reports them)."""
    try:
        tree = parse_python(source, "<candidate>")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    aliases: dict[str, str] = {}  # local name -> module path, for os/sys attribute checks
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                f = _module(a.name, node.lineno)
                if f:
                    return f
                aliases[(a.asname or a.name).split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                return Finding(
                    node.lineno, "relative import", "imports modules next to the harness"
                )
            mod = node.module or ""
            f = _module(mod, node.lineno)
            if f:
                return f
            for a in node.names:
                full = f"{mod}.{a.name}"
                f = _module(full, node.lineno) if mod in ("os", "sys") else None
                if full in FORBIDDEN_ATTRS:
                    return Finding(node.lineno, f"name {full}", FORBIDDEN_ATTRS[full])
                if f:
                    return f
        elif isinstance(node, ast.Attribute):
            if node.attr in FORBIDDEN_DUNDERS:
                return Finding(
                    node.lineno,
                    f"attribute {node.attr}",
                    "introspects frames or globals (could reach the harness's objects)",
                )
            if isinstance(node.value, ast.Name):
                base = aliases.get(node.value.id, node.value.id)
                full = f"{base}.{node.attr}"
                if full in FORBIDDEN_ATTRS:
                    return Finding(node.lineno, f"name {full}", FORBIDDEN_ATTRS[full])
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_CALLS or node.id in FORBIDDEN_DUNDERS:
                why = FORBIDDEN_CALLS.get(node.id, "introspects the interpreter")
                return Finding(node.lineno, f"name {node.id}", why)
        elif (  # getattr(sys, "modules") and friends spelled as strings
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (node.value in FORBIDDEN_DUNDERS or node.value in ("modules", "_getframe"))
        ):
            return Finding(node.lineno, f"string {node.value!r}", "names an introspection hook")
    return None


def _module(name: str, line: int) -> Finding | None:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        head = ".".join(parts[:i])
        if head in FORBIDDEN_MODULES:
            return Finding(line, f"import {name}", FORBIDDEN_MODULES[head])
    if parts[0].startswith("kb_task") or parts[0].startswith("kb_candidate"):
        return Finding(line, f"import {name}", "imports the harness's task or candidate modules")
    return None


def rejection(source: str) -> str | None:
    """The one-line rejection text for ``source``, or None when it passes."""
    f = check_source(source)
    return f"static check: {f.text()}" if f else None
