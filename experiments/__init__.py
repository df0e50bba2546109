"""The entry points (tune, benchmarks), tracking and reports; the bundled tasks."""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent / "tasks"  # handed to profiling.tasks.load_task
LANDSCAPES_DIR = Path(__file__).resolve().parent / "landscapes"  # committed, recorded on GPUs
# the KernelBench-style problems of the test suite (bench sizes in their SIZES presets)
KERNELBENCH_DIR = Path(__file__).resolve().parent.parent / "tests" / "strategies" / "kernelbench"
