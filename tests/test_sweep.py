"""Sweeps on Dask and sharded evaluation: the cluster gives the serial results, exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainlearn.sweep import expand_grid, load_results, sweep, task_key

#: Song et al. (2000) in 1 s with 100 inputs: seeded Poisson inputs, one Brian2 run per task
SONG = {"ratio": [1.0, 1.05], "duration_s": 1.0, "n_inputs": 100, "amplitude": 0.05}
RESULT_COLUMNS = ["key", "seed", "ratio", "output_rate_hz", "frac_low", "frac_high", "bimodal"]


@pytest.fixture(scope="module")
def client():
    from brainlearn.sweep import local_client

    c = local_client(2)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


def test_grid_is_the_product_of_the_values_times_the_seeds():
    pairs = expand_grid({"a": [1, 2, 3], "b": ["x", "y"], "fixed": 0.5}, seeds=2)
    assert len(pairs) == 3 * 2 * 2
    assert pairs[0] == ({"a": 1, "b": "x", "fixed": 0.5}, 0)
    assert pairs[1] == ({"a": 1, "b": "x", "fixed": 0.5}, 1)
    assert expand_grid([{"a": 1}, {"a": 5}], seeds=[7]) == [({"a": 1}, 7), ({"a": 5}, 7)]
    # the key is a hash of experiment, parameters (in any order) and seed
    assert task_key("e", {"a": 1, "b": 2}, 0) == task_key("e", {"b": 2, "a": 1}, 0)
    assert task_key("e", {"a": 1}, 0) != task_key("e", {"a": 1}, 1)


def test_local_cluster_sweep_equals_serial_results_exactly(client, tmp_path):
    parallel = sweep("song", SONG, seeds=2, client=client, out=tmp_path / "dask", progress=False)
    serial = sweep("song", SONG, seeds=2, client="serial", out=tmp_path / "serial", progress=False)
    assert len(parallel) == 4 and (parallel["status"] == "ok").all()
    assert set(parallel["worker"]) <= {"w0", "w1"}  # ran on the cluster's worker processes
    cols = [c if c in parallel else f"result_{c}" for c in RESULT_COLUMNS]
    pd.testing.assert_frame_equal(parallel[cols], serial[cols], check_exact=True)
    # different seeds really draw different inputs
    assert parallel["output_rate_hz"].iloc[0] != parallel["output_rate_hz"].iloc[1]
    # the table on disk is the returned one
    disk = pd.read_parquet(tmp_path / "dask" / "results.parquet")
    pd.testing.assert_frame_equal(disk[cols], parallel[cols], check_exact=True)
    # every task had its own working directory and each worker its own cython cache
    assert sorted(p.name for p in (tmp_path / "dask" / "work").iterdir()) == sorted(parallel["key"])
    caches = sorted(p.name for p in (tmp_path / "dask" / "cache").iterdir())
    assert caches == sorted(set(parallel["worker"]))


def test_a_raising_task_is_reported_with_its_parameters_and_retried_not_fatal(client, tmp_path, capsys):
    grid = {"offset": [1.0, 2.0], "fail": [False, True]}
    frame = sweep("selftest", grid, seeds=1, client=client, out=tmp_path, progress=False)
    ok, failed = frame[frame["status"] == "ok"], frame[frame["status"] == "failed"]
    assert list(ok["offset"]) == [1.0, 2.0] and list(failed["offset"]) == [1.0, 2.0]
    assert (failed["attempts"] == 2).all() and (ok["attempts"] == 1).all()
    assert failed["traceback"].str.contains("selftest asked to fail").all()
    assert failed["error"].str.startswith("RuntimeError").all()
    err = capsys.readouterr().err
    assert "offset=2.0, fail=True, seed=0" in err and "giving up" in err and "retrying" in err
    record = json.loads((tmp_path / "tasks" / f"{failed['key'].iloc[0]}.json").read_text())
    assert record["params"] == {"offset": 1.0, "fail": True} and "Traceback" in record["traceback"]


def test_resume_skips_finished_tasks(tmp_path):
    calls = []

    def experiment(params, seed, workdir):
        calls.append((params["x"], seed))
        return {"y": params["x"] * 10 + seed}

    first = sweep(experiment, {"x": [1, 2, 3]}, seeds=1, client="serial", out=tmp_path, progress=False)
    assert len(calls) == 3
    with pytest.raises(ValueError, match="resume"):
        sweep(experiment, {"x": [1, 2, 3]}, seeds=1, client="serial", out=tmp_path, progress=False)
    # a sweep killed before its last task finished: that task has no record
    (tmp_path / "tasks" / f"{first['key'].iloc[2]}.json").unlink()
    calls.clear()
    resumed = sweep(experiment, {"x": [1, 2, 3]}, seeds=1, client="serial", out=tmp_path,
                    resume=True, progress=False)
    assert calls == [(3, 0)]
    cols = ["key", "seed", "x", "y"]
    pd.testing.assert_frame_equal(resumed[cols], first[cols], check_exact=True)
    pd.testing.assert_frame_equal(load_results(tmp_path)[cols], first[cols], check_exact=True)


def test_cli_sweep_writes_the_table_and_exits_1_on_a_failed_task(tmp_path, capsys):
    from brainlearn.cli import main

    spec = tmp_path / "spec.yaml"
    spec.write_text("experiment: selftest\ngrid:\n  offset: [0.5]\nseeds: 2\n")
    out = tmp_path / "sw"
    assert main(["sweep", str(spec), "--serial", "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out / "results.csv")
    assert list(table["seed"]) == [0, 1] and (table["status"] == "ok").all()
    code = main(["sweep", str(spec), "--serial", "--out", str(out), "--resume", "--no-progress",
                 "--grid", "fail=true", "--retries", "0"])
    assert code == 1
    assert "2 task(s): 0 ok, 2 failed" in capsys.readouterr().out
    assert list(load_results(out)["status"]) == ["ok", "ok", "failed", "failed"]  # both grids
    assert main(["sweep", "--experiment", "nope", "--serial", "--out", str(tmp_path / "x")]) == 2


def test_import_brainlearn_stays_light_and_sweep_is_callable():
    code = ("import sys, brainlearn; assert 'dask' not in sys.modules and 'brian2' not in sys.modules;"
            "f = brainlearn.sweep; import brainlearn.sweep as m; assert callable(brainlearn.sweep);"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_cuda_device_without_brian2cuda_names_the_extra(tmp_path):
    pytest.importorskip("brian2")
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("brian2cuda is installed")
    from brainlearn.devices import select_device

    with pytest.raises(RuntimeError, match=r"brainlearn\[cuda\]"):
        select_device("cuda_standalone", tmp_path / "build")


def _fake_run(run_dir: Path, neurons: int = 8, chunk: int = 10, seed: int = 3) -> Path:
    """A run directory with the network's initial (untrained) weights, on the runtime device."""
    from brainlearn.models.diehl_cook import TrainConfig, write_untrained_run

    return write_untrained_run(run_dir, TrainConfig.create(
        neurons=neurons, examples=1, seed=seed, device="runtime", data="embedded", chunk=chunk))


def test_sharded_evaluation_equals_serial_evaluation_exactly(client, tmp_path):
    from brian2 import second

    from brainlearn.models.diehl_cook.evaluation import frozen_params
    from brainlearn.models.diehl_cook.model import DiehlCookParams
    from brainlearn.models.diehl_cook.sharded import (
        evaluate_on_workers,
        evaluate_sharded,
        plan_shards,
    )

    run_dir = _fake_run(tmp_path / "run")
    # the command line's default path: serial at this size
    serial = evaluate_on_workers(run_dir, 20, 10, progress=False)
    assert serial["workers"] == 1
    # the default path runs the frozen network that starts every presentation from rest:
    # presentations follow each other after the input window and the longest delay only
    starts = np.sort(pd.read_parquet(run_dir / "examples.parquet")["start"].to_numpy())
    params = DiehlCookParams()
    gaps = np.diff(starts) / float(frozen_params(params).period / second)
    assert frozen_params(params).period < params.period
    assert len(gaps) and np.allclose(gaps, np.round(gaps)) and gaps.min() >= 1 - 1e-9
    counts = dict(np.load(run_dir / "eval_counts.npz"))
    spikes = pd.read_parquet(run_dir / "spikes.parquet")
    window = {name: pd.read_parquet(run_dir / name)
              for name in ("assign_spikes.parquet", "test_spikes.parquet")}
    sharded = evaluate_sharded(run_dir, 20, 10, client=client, progress=False)
    assert sharded["shards"] == 3  # two assignment chunks and one test chunk, each a shard
    assert sharded["accuracy"] == serial["accuracy"]
    for name, values in np.load(run_dir / "eval_counts.npz").items():
        np.testing.assert_array_equal(values, counts[name], err_msg=name)
    assert counts["assign_counts"].sum() > 0  # the comparison is not between empty tables
    pd.testing.assert_frame_equal(pd.read_parquet(run_dir / "spikes.parquet"), spikes,
                                  check_exact=True)
    for name, frame in window.items():  # the readouts' spike trains, timed per example
        assert len(frame) > 0, name
        pd.testing.assert_frame_equal(pd.read_parquet(run_dir / name), frame, check_exact=True)
    assert plan_shards({"assign": 60, "test": 10}, 4) == [
        ("assign", 0, 20), ("assign", 20, 40), ("assign", 40, 60), ("test", 0, 10)]


def test_the_workers_keep_their_chunks_so_a_sharded_evaluation_resumes(client, tmp_path,
                                                                        monkeypatch):
    from brainlearn.models.diehl_cook import evaluation
    from brainlearn.models.diehl_cook.evaluation import CHUNKS_DIR, evaluate
    from brainlearn.models.diehl_cook.sharded import evaluate_sharded

    whole, run = _fake_run(tmp_path / "whole"), _fake_run(tmp_path / "run")
    serial = evaluate(whole, 20, 10, progress=False)

    def fails(*args, **kwargs):
        raise OSError("cannot write metrics.json: the disk is full")

    monkeypatch.setattr(evaluation, "finish_evaluation", fails)
    with pytest.raises(OSError, match="disk is full"):
        evaluate_sharded(run, 20, 10, client=client, progress=False)
    monkeypatch.undo()
    # every chunk the workers finished is kept, whatever fails after them
    assert sorted(p.name for p in (run / CHUNKS_DIR).glob("*.npz")) == [
        "assign_000000.npz", "assign_000001.npz", "test_000000.npz"]
    (run / CHUNKS_DIR / "assign_000001.npz").unlink()  # as if its worker had been killed
    resumed = evaluate_sharded(run, 20, 10, client=client, progress=False)
    assert resumed["shards"] == 1 and resumed["eval_resumed_images"] == 20
    assert resumed["accuracy"] == serial["accuracy"]
    counts = dict(np.load(whole / "eval_counts.npz"))
    for name, values in np.load(run / "eval_counts.npz").items():
        np.testing.assert_array_equal(values, counts[name], err_msg=name)
    for name in ("spikes.parquet", "assign_spikes.parquet", "test_spikes.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(run / name), pd.read_parquet(whole / name),
                                      check_exact=True)
    assert not (run / CHUNKS_DIR).exists()


@pytest.mark.slow  # about a minute on the loaded 2-core machine (a cluster's start);
# tests/test_devices.py checks the same shutdown in a few seconds
def test_a_two_worker_evaluation_ends_without_tracebacks(tmp_path):
    """Each worker keeps its frozen network (holding Brian2's device) to the end of its
    process: the interpreter's shutdown closes it quietly (no "Exception ignored in:
    generator use_device ... sys.meta_path is None")."""
    run_dir = _fake_run(tmp_path / "run", chunk=2)
    code = ("import sys\n"
            "from brainlearn.models.diehl_cook.sharded import evaluate_on_workers\n"
            f"m = evaluate_on_workers({str(run_dir)!r}, 2, 2, workers=2, progress=False)\n"
            "print(m['workers'], m['shards'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["2", "2"]  # it ran on the two workers
    assert "Exception ignored" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    # each worker exits within its nanny's grace period (no last garbage collection)
    assert "still alive" not in out.stderr, out.stderr


def test_reproduce_shards_each_rows_evaluation_over_the_cluster(client, tmp_path):
    from brainlearn.models.diehl_cook import evaluate
    from brainlearn.models.diehl_cook.reproduce import reproduce, row_directory

    # one chunk of training images (numpy target, N=100: the row's size): the claim is about
    # the evaluation, sharded over the cluster, which the training images do not change
    table = reproduce(tmp_path, [100], param_set="sized", data="embedded", examples=10,
                      assign_examples=20, test_examples=10, chunk=10, progress=False,
                      plot=False, scheduler=client, device="runtime")
    run_dir = row_directory(tmp_path, 100, "sized", 0)
    sharded = json.loads((run_dir / "metrics.json").read_text())
    assert sharded["shards"] == 3 and int(table.loc[0, "eval_shards"]) == 3
    counts = dict(np.load(run_dir / "eval_counts.npz"))
    # the same row evaluated serially: the same counts and accuracy
    serial = evaluate(run_dir, 20, 10, progress=False, readouts=("vote", "logistic", "online"))
    assert serial["accuracy"] == sharded["accuracy"]
    assert serial["accuracy_logistic"] == sharded["accuracy_logistic"]
    for name, values in np.load(run_dir / "eval_counts.npz").items():
        np.testing.assert_array_equal(values, counts[name], err_msg=name)
    assert counts["assign_counts"].sum() > 0


def test_a_spec_and_the_command_line_lists_parse_one_way(tmp_path):
    from brainlearn.commands._args import split_list
    from brainlearn.sweep_spec import load_spec, parse_grid, parse_seeds

    assert parse_seeds("3") == 3 and parse_seeds("0,7,42") == [0, 7, 42] and parse_seeds("5,") == [5]
    with pytest.raises(ValueError, match=r"--seeds takes a count K or a list like 0,7,42, got 'x'"):
        parse_seeds("x")
    assert parse_grid(["rule=pair,triplet", "A_plus=0.01"]) == {"rule": ["pair", "triplet"], "A_plus": [0.01]}
    with pytest.raises(ValueError, match=r"--grid takes KEY=V1,V2,... items, got 'rule'"):
        parse_grid(["rule"])
    assert split_list(" 8, 16,,32", int, minimum=1) == (8, 16, 32)
    with pytest.raises(ValueError, match=r"^--hidden takes a comma-separated list of integers >= 1, got '8,0'$"):
        split_list("8,0", int, minimum=1, flag="--hidden")
    with pytest.raises(ValueError, match=r"^expected a comma-separated list of pair, triplet, got 'pair,x'$"):
        split_list("pair,x", choices=("pair", "triplet"))
    spec = tmp_path / "spec.yaml"
    spec.write_text("experiment: selftest\nseed: 2\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) seed; known: .*seeds"):
        load_spec(spec)
