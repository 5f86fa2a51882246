"""Smoke tests of the benchmark helpers on tiny inputs: structure, and that every baseline
computes the same numbers as ours (no timing assertions)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_graph, bench_official, bench_scaling, run
from benchmarks._child import scaling as child_scaling
from benchmarks._common import Row, atomic_write_text, measure
from nb201_flat.landscape import neighbourhood_score
from nb201_flat.space import NB201, Space
from nb201_flat.table import MetricKey, Table

DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")


def _synthetic_nb201_table(seed: int = 0) -> Table:
    """Every key the official layout reads, per-seed where the real data has seeds."""
    rng = np.random.default_rng(seed)
    n = NB201.size
    data: dict[tuple[MetricKey, int | None], np.ndarray] = {}
    splits = {
        "cifar10-valid": ("x-valid", "ori-test"),
        "cifar10": ("ori-test",),
        "cifar100": ("x-valid", "x-test", "ori-test"),
        "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
    }
    third = rng.random(n) < 0.5  # half the archs have a third seed
    for ds, ss in splits.items():
        data[(MetricKey(ds, "train", 200, "accuracy"), None)] = rng.uniform(10, 100, n)
        data[(MetricKey(ds, "train", 200, "time_s"), None)] = rng.uniform(1e3, 2e4, n)
        if ds == "cifar10-valid":
            data[(MetricKey(ds, "train", 200, "loss"), None)] = rng.uniform(0, 2, n)
        if ds != "cifar10":
            data[(MetricKey(ds, "model", 200, "params_mb"), None)] = rng.uniform(0.1, 1.5, n)
        for sp in ss:
            key = MetricKey(ds, sp, 200, "accuracy")
            if sp == "x-valid" or (sp == "ori-test" and ds in ("cifar100", "ImageNet16-120")):
                seeds = rng.uniform(10, 95, (3, n))
                seeds[2, ~third] = np.nan
                for s in range(3):
                    data[(key, s)] = seeds[s]
                data[(key, None)] = np.nanmean(seeds, axis=0)
            else:
                data[(key, None)] = rng.uniform(10, 95, n)
    data[(MetricKey("cifar10-valid", "x-valid", 12, "accuracy"), None)] = rng.uniform(10, 90, n)
    return Table(NB201, data, source="synthetic-official")


def test_official_file_loads_in_the_api_and_matches_our_table(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    api_mod = pytest.importorskip("nas_201_api")
    from benchmarks.official_file import official_dict, sample_order, write_official_files

    table = _synthetic_nb201_table()
    paths = {3: tmp_path / "a3.pth", 6: tmp_path / "a6.pth"}
    write_official_files(table, paths)
    # the streamed file is exactly the dict the API's own classes build
    loaded = torch.load(paths[6])  # torch's default (weights_only) unpickler accepts it
    expected = official_dict(table, sample_order()[:6])
    assert list(loaded) == ["meta_archs", "total_archs", "arch2infos", "evaluated_indexes"]
    assert loaded["evaluated_indexes"] == expected["evaluated_indexes"]
    assert pickle_equal(loaded["arch2infos"], expected["arch2infos"])
    api = api_mod.NASBench201API(str(paths[3]), verbose=False)
    assert len(api) == NB201.size and len(api.evaluated_indexes) == 3
    idx = list(api.evaluated_indexes)
    records: dict[str, list[float | None]] = {}
    for ds in DATASETS:
        rows = [api.get_more_info(i, ds, hp="200", is_random=False) for i in idx]
        for f in bench_official.API_FIELDS:
            records[f"{ds}/{f}"] = [
                None if r.get(f) is None or math.isnan(r[f]) else float(r[f]) for r in rows
            ]
    same, worst = bench_official.compare_records(table, idx, records)
    assert same, worst
    # and a wrong table is caught
    other = _synthetic_nb201_table(seed=1)
    assert not bench_official.compare_records(other, idx, records)[0]


def pickle_equal(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(pickle_equal(a[k], b[k]) for k in a)  # type: ignore[attr-defined]
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(pickle_equal(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b


def test_more_info_vectors_cover_every_dataset() -> None:
    sweep = bench_official.full_sweep(_synthetic_nb201_table())
    assert set(sweep) == set(DATASETS)
    assert "valid-accuracy" not in sweep["cifar10"]  # cifar10 has no validation split
    assert all(v.shape == (NB201.size,) for d in sweep.values() for v in d.values())


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_networkx_ball_means_equal_ours(radius: int) -> None:
    space = Space(("none", "a", "b"), 4)  # 729 cells
    values = np.random.default_rng(radius).random(space.size)
    g = bench_graph.space_graph(space)
    nodes = list(range(0, space.size, 7))
    theirs = bench_graph.nx_ball_means(g, values, radius, nodes)
    ours = neighbourhood_score(space, values, radius, exact=False)
    np.testing.assert_allclose(ours[nodes], theirs, rtol=1e-12)


def test_networkx_lowest_barrier_equals_ours() -> None:
    from nb201_flat.landscape.maximin import barrier_tree

    space = Space(("none", "a", "b"), 4)
    values = np.random.default_rng(3).random(space.size)
    tree_nx = bench_graph.nx_barrier_tree(space, values)
    tree = barrier_tree(space, values)
    pairs = np.random.default_rng(4).choice(space.size, size=(30, 2)).tolist()
    for a, b in pairs:
        assert tree.path(a, b).barrier == pytest.approx(
            bench_graph.nx_lowest_barrier(tree_nx, values, a, b), abs=1e-12
        )


def test_networkx_fewest_steps_maximin_equals_ours() -> None:
    from nb201_flat.landscape.maximin import barrier_tree

    space = Space(("none", "a", "b"), 4)
    values = np.random.default_rng(5).random(space.size)
    g = bench_graph.space_graph(space)
    tree_nx = bench_graph.nx_barrier_tree(space, values)
    tree = barrier_tree(space, values)
    pairs = np.random.default_rng(6).choice(space.size, size=(30, 2)).tolist()
    steps_differ = 0
    for a, b in pairs:
        barrier, steps = bench_graph.nx_fewest_steps_maximin(g, tree_nx, values, a, b)
        ours = tree.path(a, b)
        assert (ours.barrier, ours.length) == (pytest.approx(barrier, abs=1e-12), steps)
        steps_differ += tree.path(a, b, shortest=False).length != steps
    assert steps_differ  # the fewest steps are not just the tree's own path


def test_naslib_encoding_round_trips_every_cell() -> None:
    assert bench_graph.ops_match_nb201()
    strings = NB201.strings()
    assert all(bench_graph.naslib_to_str(bench_graph.naslib_indices(s)) == s for s in strings)


def test_naslib_and_a2m_loops_equal_ours() -> None:
    values = np.random.default_rng(5).random(NB201.size)
    strings = NB201.strings()
    nodes = [0, 11472, 6111, 15624]
    archs = [bench_graph.naslib_indices(strings[i]) for i in nodes]
    ours = neighbourhood_score(NB201, values, 1)[nodes]
    naslib = bench_graph.naslib_nbhd_means(archs, dict(zip(strings, values.tolist(), strict=True)))
    a2m = bench_graph.a2m_nbhd_means(archs, strings, values.tolist())
    np.testing.assert_allclose(naslib, ours, rtol=1e-12)
    np.testing.assert_allclose(a2m, ours, rtol=1e-12)


def test_scaling_child_and_summary_on_a_tiny_space() -> None:
    res = child_scaling(3, 4, [1, 2], True, None)
    whats = [r["what"] for r in res["rows"]]
    assert whats == ["aggregate_r1", "aggregate_r2", "barrier_tree"]
    assert all(r["size"] == 729 for r in res["rows"])
    assert bench_scaling.fit_exponent([10, 100], [1.0, 10.0]) == pytest.approx(1.0)


def test_row_ratio_and_target() -> None:
    row = Row("g", "op", ours_s=0.01, baseline_s=2.0, target_ratio=100.0)
    assert row.ratio == pytest.approx(200.0) and row.met is True
    assert Row("g", "op", status="pending").to_json()["ratio"] is None
    # a memory target too: met only when both hold
    fast = {"ours_s": 1.0, "baseline_s": 10.0, "target_ratio": 1.0, "target_peak_mb": 400.0}
    assert Row("g", "op", ours_peak_mb=399.0, **fast).met is True
    assert Row("g", "op", ours_peak_mb=401.0, **fast).met is False
    assert Row("g", "op", **fast).met is False  # a memory target and no peak measured
    assert len(measure(lambda: None, repeats=3).runs) == 3


def test_run_writes_json_and_markdown(tmp_path: Path) -> None:
    assert run.main(["--quick", "--only", "loops", "--out", str(tmp_path), "--repeats", "1"]) == 0
    payload = json.loads((tmp_path / "latest.json").read_text())
    assert {"cpu", "logical_cores", "ram_gb", "python", "numpy", "pandas", "git_commit"} <= set(
        payload["machine"]
    )
    names = [r["name"] for r in payload["rows"]]
    assert names == ["naslib_get_nbhd_r1", "a2m_linear_scan_r1"]
    assert all(r["same_result"] for r in payload["rows"])
    md = (tmp_path / "latest.md").read_text()
    assert "| group | operation | ours | baseline | ratio |" in md


def test_a_partial_run_never_replaces_the_full_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `make bench-quick` (and `--only`) wrote over benchmarks/results, the committed full record
    record, partial = tmp_path / "results", tmp_path / "results" / "partial"
    record.mkdir()
    (record / "latest.md").write_text("the full record\n")
    monkeypatch.setattr(run, "RECORD", record)
    monkeypatch.setattr(run, "PARTIAL", partial)
    assert run.main(["--quick", "--only", "loops", "--repeats", "1"]) == 0
    assert (record / "latest.md").read_text() == "the full record\n"
    assert not (record / "latest.json").exists()
    assert json.loads((partial / "latest.json").read_text())["mode"] == "quick, only loops"
    assert "| group | operation |" in (partial / "latest.md").read_text()


def test_atomic_write_replaces(tmp_path: Path) -> None:
    p = tmp_path / "x" / "f.txt"
    atomic_write_text(p, "a")
    atomic_write_text(p, "b")
    assert p.read_text() == "b" and [q.name for q in p.parent.iterdir()] == ["f.txt"]
    # the umask's mode, as every file the package writes (a lent GPU machine's results come
    # back readable), not tempfile's private 0600
    mask = os.umask(0o022)
    try:
        atomic_write_text(p, "c")
    finally:
        os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o644
