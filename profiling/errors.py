"""Turning a candidate's exception into a status and a short error text."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from profiling.measurement import Status


class UserError(Exception):
    """A problem the user can fix; printed as one line (the CLIs exit 2)."""

MAX_ERROR_CHARS = 400

# Exception class names (anywhere in the MRO) that mean "the kernel did not compile".
COMPILE_ERROR_NAMES = frozenset(
    {
        "CompilationError",  # triton.compiler.errors (and its subclasses)
        "CompileTimeAssertionFailure",
        "UnsupportedLanguageConstruct",
        "PTXASError",
        "OutOfResources",  # shared memory / registers over the hardware limit
        "CompileException",  # cupy.cuda.compiler
        "NVRTCError",
        "BackendCompilerFailed",  # torch.compile inside a candidate
        "InductorError",
    }
)
# Inside the Triton interpreter, a kernel's static mistakes (undefined names, bad
# types, shape mismatches) surface as InterpreterError wrapping these.
_INTERPRETER_STATIC_CAUSES = (NameError, AttributeError, TypeError, ValueError, AssertionError)

# Messages after which the CUDA context is unusable: the worker must be replaced.
CUDA_FATAL_MARKERS = (
    "illegal memory access",
    "illegal address",
    "misaligned address",
    "device-side assert",
    "unspecified launch failure",
    "an illegal instruction",
    "CUDA error: launch failed",
    "cudaErrorIllegalAddress",
    "CUDA_ERROR_ILLEGAL_ADDRESS",
    "CUDA_ERROR_LAUNCH_FAILED",
    "invalid program counter",
    "uncorrectable ECC",
)


class Verdict(Exception):
    """Raised inside the worker to end an evaluation with a status."""

    def __init__(self, status: Status, error: str, restart: bool = False) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.restart = restart


class TaskFailure(Verdict):
    """The reference or the task's own code failed (not the candidate's fault)."""


@dataclass(frozen=True)
class Classified:
    status: Status
    error: str
    cuda_fatal: bool = False


def _class_names(e: BaseException) -> set[str]:
    return {c.__name__ for c in type(e).__mro__}


# Hint lines PyTorch appends to CUDA errors; the last line that is not one of them says what happened.
_BOILERPLATE = (
    "Compile with `TORCH_USE_CUDA_DSA`",
    "For debugging consider passing CUDA_LAUNCH_BLOCKING",
    "CUDA kernel errors might be asynchronously reported",
    "Search for `cudaError",
)


def short_text(e: BaseException, source_file: str | None = None) -> str:
    """``Type: last line of the message`` plus the candidate line, trimmed."""
    msg = str(e).strip()
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(_BOILERPLATE)] or lines
    last = lines[-1] if lines else ""
    where = next((ln for ln in lines if ln.startswith("at ") and ":" in ln), "")
    text = f"{type(e).__name__}: {last}" if last else type(e).__name__
    if where and where != last:
        text += f" ({where.rstrip(':')})"
    line = candidate_line(e, source_file) if source_file else None
    if line is not None:
        text += f" [candidate line {line}]"
    return trim(text)


def trim(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def candidate_line(e: BaseException, source_file: str) -> int | None:
    """The innermost line of the candidate file in the traceback, if any.

    ``source_file`` is the candidate's file name or a marker contained in it.
    """
    line = None
    seen: set[int] = set()
    exc: BaseException | None = e
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for frame in traceback.extract_tb(exc.__traceback__):
            if source_file in frame.filename:
                line = frame.lineno
        exc = exc.__cause__ or exc.__context__
    return line


def is_cuda_fatal(text: str) -> bool:
    return any(m.lower() in text.lower() for m in CUDA_FATAL_MARKERS)


def classify(e: BaseException, source_file: str | None = None) -> Classified:
    """Status and short text for an exception raised by candidate code."""
    if isinstance(e, SyntaxError):
        where = f" (line {e.lineno})" if e.lineno else ""
        return Classified(Status.SYNTAX_ERROR, trim(f"SyntaxError: {e.msg}{where}"))
    names = _class_names(e)
    text = short_text(e, source_file)
    if names & COMPILE_ERROR_NAMES:
        return Classified(Status.COMPILE_ERROR, text)
    if "InterpreterError" in names:
        cause = e.__cause__
        if cause is not None:
            text = trim(f"{short_text(cause, source_file)} (in a Triton kernel)")
            if (
                isinstance(cause, _INTERPRETER_STATIC_CAUSES)
                or _class_names(cause) & COMPILE_ERROR_NAMES
            ):
                return Classified(Status.COMPILE_ERROR, text)
        return Classified(Status.RUNTIME_ERROR, text)
    fatal = is_cuda_fatal(f"{type(e).__name__}: {e}")
    return Classified(Status.RUNTIME_ERROR, text, cuda_fatal=fatal)
