import pytest

from profiling.static_check import check_source, rejection

OK_SOURCES = [
    "import torch\nimport triton\nimport triton.language as tl\nimport math, os\n"
    "x = os.environ.get('A')\nclass ModelNew(torch.nn.Module):\n    def forward(self, input):\n"
    "        return torch.compile(lambda t: t)(input)\n",
    "from torch import nn\nimport numpy as np\nimport functools\n",
]


@pytest.mark.parametrize("src", OK_SOURCES)
def test_ordinary_kernels_pass(src):
    assert check_source(src) is None


@pytest.mark.parametrize(
    "src, fragment",
    [
        ("import gc", "import gc"),
        ("import inspect", "introspects"),
        ("from concurrent.futures import ThreadPoolExecutor", "thread"),
        ("import threading", "thread"),
        ("import socket", "network"),
        ("import urllib.request", "network"),
        ("import subprocess", "processes"),
        ("import ctypes", "foreign"),
        ("import os\nos.system('x')", "os.system"),
        ("from os import fork", "os.fork"),
        ("import os as o\no.kill(1, 9)", "os.kill"),
        ("import sys\nsys.modules['x']", "sys.modules"),
        ("import sys\nsys._getframe()", "sys._getframe"),
        ("def f():\n    pass\nf.__globals__", "__globals__"),
        ("exec('1')", "exec"),
        ("open('/etc/passwd')", "open"),
        ("from profiling import runner", "harness"),
        ("import kb_task_softmax", "harness"),
        ("from . import x", "relative"),
        ("getattr(object, '__subclasses__')", "introspection"),
    ],
)
def test_escapes_are_rejected_with_the_reason(src, fragment):
    text = rejection(src)
    assert text is not None and fragment in text and "line" in text and "\n" not in text


def test_syntax_errors_are_left_to_the_compiler():
    assert check_source("def f(:\n") is None
