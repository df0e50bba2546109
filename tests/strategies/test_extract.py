"""Code extraction from replies and the static checks on candidate modules."""

from __future__ import annotations

import pytest

from strategies.extract import code_blocks, extract_code, static_check
from tests.strategies.conftest import GOOD_SOURCE


def fenced(src: str, lang: str = "python", fence: str = "```") -> str:
    return f"{fence}{lang}\n{src}{fence}\n"


def test_single_python_block():
    out = extract_code("Here you go:\n\n" + fenced(GOOD_SOURCE) + "\nDone.")
    assert out.ok and out.source == GOOD_SOURCE and out.error == ""


@pytest.mark.parametrize("lang", ["py", "python3", "Python", ""])
def test_python_label_variants(lang):
    assert extract_code(fenced(GOOD_SOURCE, lang)).source == GOOD_SOURCE


def test_tilde_fences():
    assert extract_code(fenced(GOOD_SOURCE, fence="~~~")).source == GOOD_SOURCE


def test_prefers_the_block_defining_modelnew():
    reply = (
        "First a helper:\n" + fenced("def helper():\n    return 1\n")
        + "Shell:\n" + fenced("pip install triton\n", "bash")
        + "The module:\n" + fenced(GOOD_SOURCE)
        + "Usage:\n" + fenced("model = ModelNew()\n")
    )
    assert extract_code(reply).source == GOOD_SOURCE


def test_last_labeled_modelnew_block_wins():
    revised = GOOD_SOURCE.replace("_softmax_kernel", "_softmax_kernel_v2")
    reply = fenced(GOOD_SOURCE) + "\nActually, better:\n" + fenced(revised)
    assert extract_code(reply).source == revised


def test_inner_fence_lines_in_strings_do_not_close_a_longer_fence():
    src = GOOD_SOURCE + 'DOC = """\n```\nnot a fence for a 4-backtick block\n```\n"""\n'
    assert extract_code(fenced(src, fence="````")).source == src


def test_no_block():
    out = extract_code("Use tl.max then tl.sum. " + GOOD_SOURCE)
    assert out.source is None and "no fenced ```python code block" in out.error


def test_only_other_languages():
    out = extract_code(fenced("__global__ void k() {}\n", "cuda"))
    assert out.source is None and "no python code block" in out.error and "cuda" in out.error


def test_unclosed_block_is_truncation():
    out = extract_code("```python\n" + GOOD_SOURCE[:200])
    assert out.source is None and "truncated" in out.error


def test_code_blocks_reports_unbalanced_fences():
    blocks, unclosed = code_blocks(fenced("a = 1\n") + "```python\nb = 2\n")
    assert [b.text for b in blocks] == ["a = 1\n"] and unclosed


def test_block_without_modelnew():
    out = extract_code(fenced("class Model:\n    pass\n"))
    assert out.source is None and "does not define a top-level class ModelNew" in out.error


def test_syntax_error_names_the_line():
    out = extract_code(fenced(GOOD_SOURCE + "def broken(:\n"))
    assert out.source is None and "does not parse" in out.error and "line" in out.error


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("import os\n", "import of 'os' is not allowed"),
        ("import subprocess\n", "'subprocess' is not allowed"),
        ("from socket import socket\n", "'socket' is not allowed"),
        ("import urllib.request\n", "'urllib.request' is not allowed"),
        ("import ctypes\n", "'ctypes' is not allowed"),
        ("from . import sibling\n", "relative imports"),
        ("x = eval('1 + 1')\n", "eval() is not allowed"),
        ("exec('y = 2')\n", "exec() is not allowed"),
        ("m = __import__('os')\n", "__import__() is not allowed"),
        ("f = open('/etc/passwd')\n", "open() is not allowed"),
        ("s = torch.cuda.Stream()\n", ".Stream is not allowed"),
        ("from torch.utils.cpp_extension import load_inline\n", "load_inline"),
        ("torch.cuda.Event.elapsed_time = lambda *a: 1.0\n", "monkeypatching"),
        ("setattr(torch, 'softmax', None)\n", "monkeypatching"),
    ],
)
def test_banned_constructs(snippet, message):
    problems = static_check(GOOD_SOURCE + "\n" + snippet)
    assert any(message in p for p in problems), problems


def test_allowed_imports_pass():
    src = (
        "from __future__ import annotations\nimport math\nimport functools\nfrom typing import Any\n"
        "import numpy as np\nimport triton.language as tl\nfrom torch import nn\n" + GOOD_SOURCE
    )
    assert static_check(src) == []


def test_error_lists_several_problems_once():
    out = extract_code(fenced("import os\nimport os\nx = eval('1')\n"))
    assert out.source is None
    assert out.error.count("'os'") == 1 and "eval" in out.error and "ModelNew" in out.error
