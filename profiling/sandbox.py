"""Run-time limits for candidate code inside the worker: files, network, processes, CPU.

An audit hook (:func:`sys.addaudithook`) watches file opens, directory
listings, renames/removals, socket connects/binds, DNS lookups, process
starts, signals and foreign-library loads. While a frame of the candidate's
module is on the stack, such an event is refused (``PermissionError``) and
recorded unless it stays inside the allowed places:

- read and write: the candidate's own fresh working directory, the worker's
  scratch directory (its ``TMPDIR``), the Triton/CuPy/Inductor caches, and the
  null device (``subprocess`` opens it read-write for every ``DEVNULL`` stream:
  Triton's ``ptxas`` calls and driver build do);
- read only: the Python installation and site-packages, ``/usr``, ``/lib*``,
  ``/opt``, ``/etc``, ``/dev``, ``/proc``, ``/sys`` (toolchains and drivers);
- processes: only compiler toolchain binaries (``ptxas``, ``gcc``, ``ldconfig``
  ...) and the Python interpreter (Triton and Inductor compile through them);
- no network at all, no signals, no ``ctypes`` loads of libraries outside the
  read-only places.

A refused event is reported by the runner as ``rejected`` even when the
candidate swallowed the exception. Candidate code that reaches these calls
without a frame of its own on the stack (a builtin stored as a callback) is
the static check's to stop. CPU time: :func:`limit_cpu` sets the soft
``RLIMIT_CPU`` of the worker to what it has used plus the per-evaluation
allowance, so a spinning candidate gets ``SIGXCPU`` and the parent reports it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import site
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

CANDIDATE_MARK = "kb_candidate_"
TOOLCHAIN = frozenset(
    {
        "ptxas",
        "ptxas-blackwell",
        "cuobjdump",
        "nvdisasm",
        "nvlink",
        "fatbinary",
        "nvcc",
        "gcc",
        "cc",
        "g++",
        "c++",
        "clang",
        "clang++",
        "ld",
        "ld.lld",
        "as",
        "ldconfig",
        "ldconfig.real",
        "ninja",
        "hipcc",
        "ld.gold",
        # read-only inspection: platform.architecture() runs `file -b <interpreter>`,
        # ctypes.util.find_library runs objdump (both seen under Triton on a GPU)
        "file",
        "objdump",
    }
)
_FILE_EVENTS = frozenset(
    {
        "os.listdir",
        "os.scandir",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.move",
        "os.chdir",
    }
)
_NET_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.gethostbyname_ex",
    }
)
_DENY_EVENTS = frozenset(
    {"os.kill", "os.killpg", "signal.pthread_kill", "os.forkpty", "os.system", "sys.addaudithook"}
)
_SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn"})


class _State:
    busy = False
    installed = False
    enabled = True
    rw: tuple[str, ...] = ()
    ro: tuple[str, ...] = ()
    candidate_dir: str = ""
    violations: ClassVar[list[str]] = []


def _norm(p: str) -> str:
    return os.path.realpath(os.path.abspath(p))


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots if r)


def default_roots(scratch: str) -> tuple[list[str], list[str]]:
    home = os.path.expanduser("~")
    rw = [
        scratch,
        os.environ.get("TMPDIR", scratch),
        os.environ.get("TRITON_CACHE_DIR", os.path.join(home, ".triton")),
        os.path.join(home, ".triton"),
        os.path.join(home, ".cupy"),
        os.environ.get("TORCHINDUCTOR_CACHE_DIR", ""),
        os.devnull,
    ]
    paths = sysconfig.get_paths()
    ro = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        *site.getsitepackages(),
        site.getusersitepackages() if isinstance(site.getusersitepackages(), str) else "",
        paths.get("stdlib", ""),
        paths.get("platstdlib", ""),
        paths.get("purelib", ""),
        paths.get("platlib", ""),
        "/usr",
        "/lib",
        "/lib64",
        "/opt",
        "/etc",
        "/dev",
        "/proc",
        "/sys",
        "/run/nvidia-persistenced",
        os.environ.get("CUDA_HOME", ""),
    ]
    return [_norm(p) for p in rw if p], [_norm(p) for p in ro if p]


def install(scratch: str) -> None:
    """Install the audit hook (once per process; hooks cannot be removed)."""
    rw, ro = default_roots(scratch)
    _State.rw, _State.ro = tuple(rw), tuple(ro)
    if not _State.installed:
        sys.addaudithook(_hook)
        _State.installed = True


def set_candidate_dir(path: str) -> None:
    _State.candidate_dir = _norm(path) if path else ""


def set_enabled(flag: bool) -> None:
    _State.enabled = flag


def take_violations() -> list[str]:
    out, _State.violations = _State.violations, []
    return out


_STDLIB = os.path.realpath(sysconfig.get_paths().get("stdlib", "")) + os.sep


def _frames() -> Any:
    # (sys._getframe and frame attributes raise audit events of their own: the hook
    # ignores events while it runs)
    return sys._getframe(4)


def _candidate_on_stack() -> bool:
    f = _frames()
    while f is not None:
        if CANDIDATE_MARK in f.f_code.co_filename:
            return True
        f = f.f_back
    return False


def _candidate_calls_directly() -> bool:
    """Whether the nearest frame outside the standard library is the candidate's."""
    f = _frames()
    while f is not None and f.f_code.co_filename.startswith(_STDLIB):
        f = f.f_back
    return f is not None and CANDIDATE_MARK in f.f_code.co_filename


MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pth", ".pyi")
METADATA_DIRS = (".dist-info", ".egg-info")


def _is_metadata(p: str) -> bool:
    """A file of an installed distribution's metadata (importlib.metadata reads
    ``entry_points.txt`` and friends when a library looks up its plugins)."""
    return any(part.endswith(METADATA_DIRS) for part in p.split(os.sep)[:-1])


def _import_path(p: str, listing: bool) -> bool:
    """Reads an import needs from a sys.path entry: listing it, loading a module file,
    reading a distribution's metadata."""
    roots = [_norm(e or os.getcwd()) for e in sys.path if isinstance(e, str)]
    if listing:
        return p in roots or (_is_metadata(p + os.sep) and _under(p, roots))
    return (p.endswith(MODULE_SUFFIXES) or _is_metadata(p)) and _under(p, roots)


def _path_ok(path: Any, write: bool, listing: bool = False) -> bool:
    if isinstance(path, int):
        return True  # an already open descriptor
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str | os.PathLike):
        return True
    p = _norm(os.fspath(path))
    rw = (*_State.rw, _State.candidate_dir)
    if _under(p, rw):
        return True
    return not write and (_under(p, _State.ro) or _import_path(p, listing))


def _spawn_ok(args: tuple[Any, ...]) -> bool:
    exe = args[0] if args else None
    if exe is None and len(args) > 1 and args[1]:
        argv = args[1]
        exe = argv[0] if isinstance(argv, list | tuple) and argv else argv
    if isinstance(exe, bytes):
        exe = os.fsdecode(exe)
    if not isinstance(exe, str | os.PathLike):
        return False
    exe = os.fspath(exe)
    if os.path.basename(exe) in TOOLCHAIN:
        return True
    full = _norm(exe)
    return full == _norm(sys.executable) or _under(full, (sys.prefix, *site.getsitepackages()))


def _refuse(what: str) -> None:
    text = f"sandbox: candidate code tried to {what}"
    _State.violations.append(text)
    raise PermissionError(text)


_INTROSPECTION = frozenset(
    {
        "sys._getframe",
        "sys._current_frames",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "object.__getattr__",
    }
)
_NATIVE_DANGER = frozenset(
    {
        "system",
        "popen",
        "fork",
        "vfork",
        "execv",
        "execve",
        "execvp",
        "kill",
        "socket",
        "connect",
        "dlopen",
        "ptrace",
        "mprotect",
        "open",
        "fopen",
        "openat",
        "setenv",
        "putenv",
    }
)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _State.busy or not _State.enabled:
        return
    _State.busy = True
    try:
        _check(event, args)
    finally:
        _State.busy = False


def _check(event: str, args: tuple[Any, ...]) -> None:
    if event in _INTROSPECTION:
        if _candidate_calls_directly():
            what = (
                f"{event} {args[1]}" if event == "object.__getattr__" and len(args) > 1 else event
            )
            _refuse(f"introspect the interpreter ({what})")
        return
    if event == "ctypes.dlsym":
        name = args[1] if len(args) > 1 else ""
        if isinstance(name, str) and name in _NATIVE_DANGER and _candidate_on_stack():
            _refuse(f"look up the native function {name}")
        return
    if event == "open":
        if not args:
            return
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 else 0
        write = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        )
        if not _path_ok(args[0], write) and _candidate_on_stack():
            _refuse(f"{'write' if write else 'read'} {os.fspath(args[0])!s:.120}")
    elif event in _FILE_EVENTS:
        listing = event in ("os.listdir", "os.scandir")
        if args and not _path_ok(args[0], not listing, listing) and _candidate_on_stack():
            _refuse(f"{event} {args[0]!s:.120}")
    elif event in _NET_EVENTS:
        if _candidate_on_stack():
            _refuse(f"use the network ({event})")
    elif event in _DENY_EVENTS:
        if _candidate_on_stack():
            _refuse(f"call {event}")
    elif event == "ctypes.dlopen":
        name = args[0] if args else None
        if isinstance(name, bytes):
            name = os.fsdecode(name)
        local = isinstance(name, str) and os.sep in name and not _under(_norm(name), _State.ro)
        if local and _candidate_on_stack():
            _refuse(f"load the native library {name!s:.120}")
    elif event in _SPAWN_EVENTS and not _spawn_ok(args) and _candidate_on_stack():
        _refuse(f"start a process ({event} {str(args[0] if args else '')[:80]})")


def limit_cpu(seconds: float) -> None:
    """Allow this process ``seconds`` more CPU time from now (soft RLIMIT_CPU)."""
    if seconds <= 0:
        return
    ru = resource.getrusage(resource.RUSAGE_SELF)
    used = ru.ru_utime + ru.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    want = int(used + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    with contextlib.suppress(ValueError, OSError):  # a platform without the limit
        resource.setrlimit(resource.RLIMIT_CPU, (want, hard))


def scratch_dir() -> Path:
    return Path(os.environ.get("TMPDIR") or os.getcwd())
