from profiling.errors import classify, is_cuda_fatal, short_text
from profiling.measurement import Status


class CompilationError(Exception):  # same name as Triton's: classified by name
    pass


class AcceleratorError(RuntimeError):
    pass


def test_cuda_error_text_skips_pytorch_hints_and_is_fatal():
    e = AcceleratorError(
        "CUDA error: an illegal memory access was encountered\n"
        "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.\n"
        "For debugging consider passing CUDA_LAUNCH_BLOCKING=1\n"
        "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n"
    )
    c = classify(e)
    assert c.status is Status.RUNTIME_ERROR and c.cuda_fatal
    assert c.error == "AcceleratorError: CUDA error: an illegal memory access was encountered"
    assert is_cuda_fatal("RuntimeError: CUDA error: device-side assert triggered")
    assert not is_cuda_fatal("RuntimeError: CUDA out of memory")


def test_compile_errors_by_class_name_keep_location():
    e = CompilationError(
        "at 12:4:\n    x = tl.load(ptr + offs)\n    ^\nNameError('offs is not defined')"
    )
    c = classify(e)
    assert c.status is Status.COMPILE_ERROR
    assert "NameError('offs is not defined')" in c.error and "at 12:4" in c.error


def test_syntax_error_and_long_messages_are_trimmed():
    c = classify(SyntaxError("invalid syntax", ("f.py", 3, 1, "x x")))
    assert c.status is Status.SYNTAX_ERROR and c.error == "SyntaxError: invalid syntax (line 3)"
    text = short_text(ValueError("x" * 5000))
    assert len(text) <= 400 and text.endswith("...")
