"""The strategy catalog: bundled content, validation, and adding an entry without code."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from experiments import TASKS_DIR
from strategies.catalog import DEFAULT_CATALOG, load_catalog, parse_catalog
from strategies.errors import CatalogError
from strategies.types import FAMILIES, RESOURCES

# the fixed catalog (COMMON.md): id -> (resource, applies_to)
ROW = ("softmax", "logsumexp", "layernorm", "rmsnorm", "residual_add_rmsnorm", "cross_entropy")
MM = ("matmul", "matmul_bias_gelu")
EXPECTED = {
    "tiling/rows_per_program": ("sm", ROW),
    "tiling/block_2d_k_loop": ("sm", (*MM, "transpose")),
    "tiling/grouped_order": ("l2", (*MM, "transpose")),
    "tiling/split_k": ("sm", MM),
    "tiling/block_size_up": ("sm", ()),
    "tiling/block_size_down": ("sm", ()),
    "fusion/fuse_epilogue": ("dram", ("matmul_bias_gelu", "residual_add_rmsnorm", "swiglu")),
    "fusion/single_pass_online": ("dram", ("softmax", "logsumexp", "cross_entropy", "layernorm")),
    "fusion/row_in_registers": ("dram", ROW),
    "fusion/fuse_elementwise": ("launch", ("gelu", "swiglu")),
    "vectorization/wider_vectors": ("dram", ()),
    "vectorization/alignment_hints": ("dram", ()),
    "vectorization/cuda_vec4": ("dram", ()),  # any fp32 pointwise group: the realizer decides
    "memory_layout/coalesced_tiles": ("dram", ("transpose",)),
    "memory_layout/tile_aspect": ("dram", ("transpose", *MM)),
    "memory_layout/streaming_eviction": ("dram", ()),
    "memory_layout/k_major_operands": ("sm", MM),
    "pipelining/stages_up": ("sm", ()),
    "pipelining/stages_down": ("sm", ()),
    "pipelining/chunked_loop": ("sm", ROW),
    "parallelism/warps_up": ("sm", ()),
    "parallelism/warps_down": ("sm", ()),
    "parallelism/persistent": ("launch", ()),
    "parallelism/split_row": ("sm", ("logsumexp", "cross_entropy", "softmax")),
    "math/fast_math": ("dram", ("logsumexp", "cross_entropy")),
    "math/tf32x3": ("sm", MM),
}


def test_bundled_catalog(catalog):
    assert set(catalog.ids()) == set(EXPECTED) and len(catalog) == 26
    for s in catalog:
        resource, kinds = EXPECTED[s.id]
        assert (s.resource, set(s.applies_to)) == (resource, set(kinds)), s.id
    assert [s.id for s in catalog if s.target == "cuda"] == ["vectorization/cuda_vec4"]
    assert catalog.families() == FAMILIES
    for s in catalog:
        assert s.id == f"{s.family}/{s.name}"
        assert s.resource in RESOURCES and s.target in ("triton", "cuda")
        assert s.description and "\n" not in s.description
        assert len(s.guidance) > 200  # real expert advice, not a placeholder
        assert all(k in catalog.task_kinds for k in s.applies_to)


def test_get_and_families(catalog):
    s = catalog.get("tiling/grouped_order")
    assert (s.family, s.name, s.resource) == ("tiling", "grouped_order", "l2")
    with pytest.raises(KeyError) as info:
        catalog.get("tiling/nope")
    assert "unknown strategy 'tiling/nope'" in info.value.args[0]
    assert "tiling/grouped_order" in info.value.args[0]
    assert {x.family for x in catalog.in_family("fusion")} == {"fusion"}


def test_for_kind_filters_by_kind_and_target(catalog):
    softmax = {s.id for s in catalog.for_kind("softmax")}
    assert "tiling/rows_per_program" in softmax and "tiling/grouped_order" not in softmax
    assert "parallelism/warps_up" in softmax  # applies to every kind
    matmul = {s.id for s in catalog.for_kind("matmul")}
    assert "tiling/split_k" in matmul and "parallelism/split_row" not in matmul
    assert {s.id for s in catalog.for_kind("gelu", target="cuda")} == {"vectorization/cuda_vec4"}
    assert "vectorization/cuda_vec4" in {s.id for s in catalog.for_kind("softmax", target="cuda")}
    assert all(s.target == "triton" for s in catalog.for_kind("gelu", target="triton"))
    # a kind the catalog does not know (any KernelBench file) is open to every strategy
    assert len(catalog.for_kind("19_ReLU")) == len(catalog)


def test_runnable_is_for_kind_without_cuda_off_a_gpu(catalog):
    for kind in ("softmax", "gelu", "19_ReLU"):
        on_gpu, off_gpu = catalog.runnable(kind, "cuda"), catalog.runnable(kind, "interpret")
        assert on_gpu == catalog.for_kind(kind)
        assert off_gpu == tuple(s for s in on_gpu if s.target != "cuda")
    assert len(catalog.runnable("gelu", "interpret")) < len(catalog.runnable("gelu", "cuda"))


def test_catalog_kinds_cover_the_bundled_tasks(catalog):
    from profiling.tasks import bundled_task_names, load_task

    for name in bundled_task_names(TASKS_DIR):
        assert load_task(name, tasks_dir=TASKS_DIR).kind in catalog.task_kinds, name


# -- validation --------------------------------------------------------------------

GOOD = {
    "id": "tiling/example",
    "resource": "sm",
    "description": "An example strategy.",
    "guidance": "Do the example thing with tl.arange.",
}


def check(entry_overrides=None, *, drop=(), kinds=("softmax",), extra_entries=()):
    entry = {**GOOD, **(entry_overrides or {})}
    for k in drop:
        entry.pop(k)
    return parse_catalog({"task_kinds": list(kinds), "strategies": [entry, *extra_entries]}, "test.yaml")


def test_minimal_entry_is_valid():
    s = check().get("tiling/example")
    assert (s.family, s.target, s.applies_to) == ("tiling", "triton", ())


@pytest.mark.parametrize(
    ("overrides", "drop", "message"),
    [
        ({}, ("guidance",), "strategy #1 (tiling/example): missing field(s): guidance"),
        ({"colour": "red"}, (), "unknown field(s): colour"),
        ({"id": "tiling"}, (), "id must look like 'family/name'"),
        ({"id": "Tiling/X"}, (), "id must look like 'family/name'"),
        ({"id": "magic/example"}, (), "family 'magic' is not one of tiling, fusion"),
        ({"family": "fusion"}, (), "family 'fusion' does not match the id prefix 'tiling'"),
        ({"resource": "gpu"}, (), "resource 'gpu' is not one of dram, l2, sm, launch"),
        ({"target": "opencl"}, (), "target 'opencl' is not one of triton, cuda"),
        ({"description": "  "}, (), "description must be non-empty"),
        ({"description": "two\nlines"}, (), "description must be one line"),
        ({"guidance": ""}, (), "guidance must be non-empty"),
        ({"applies_to": "softmax"}, (), "applies_to must be a list"),
        ({"applies_to": ["softmax", "fft"]}, (), "unknown task kind(s) in applies_to: fft"),
    ],
)
def test_bad_entries_are_rejected_clearly(overrides, drop, message):
    with pytest.raises(CatalogError) as info:
        check(overrides, drop=drop)
    assert message in str(info.value)
    assert str(info.value).startswith("test.yaml: ")


def test_duplicate_ids_are_rejected():
    with pytest.raises(CatalogError, match="strategy #2: duplicate id 'tiling/example'"):
        check(extra_entries=[dict(GOOD)])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a mapping"),
        ({"strategies": []}, "'strategies' must be a non-empty list"),
        ({"strategies": [GOOD], "extra": 1}, "unknown top-level key(s): extra"),
        ({"task_kinds": "softmax", "strategies": [GOOD]}, "task_kinds must be a list"),
        ({"strategies": ["tiling/x"]}, "strategy #1: expected a mapping, got str"),
    ],
)
def test_bad_files_are_rejected_clearly(data, message):
    with pytest.raises(CatalogError) as info:
        parse_catalog(data, "test.yaml")
    assert message in str(info.value)


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(CatalogError, match="cannot read strategy catalog"):
        load_catalog(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("strategies: [\n  - id: x\n")
    with pytest.raises(CatalogError, match=r"bad\.yaml: not valid YAML"):
        load_catalog(bad)


def test_adding_a_yaml_entry_needs_no_code(tmp_path: Path):
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["task_kinds"].append("attention")
    data["strategies"].append({
        "id": "memory_layout/kv_cache_blocked",
        "resource": "dram",
        "applies_to": ["attention"],
        "description": "Lay the KV cache out in fixed-size blocks.",
        "guidance": "Store K and V in [num_blocks, BLOCK, heads, dim] pages and index them through a block table.",
    })
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    catalog = load_catalog(path)
    assert len(catalog) == 27
    new = catalog.get("memory_layout/kv_cache_blocked")
    assert new in catalog.for_kind("attention") and new not in catalog.for_kind("softmax")
    assert new in catalog.in_family("memory_layout")
