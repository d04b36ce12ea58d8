"""The LC-SNN's evaluation keeps every finished chunk and resumes, and shares its chunks
among worker processes, with the result of one uninterrupted serial run
(``models/lcsnn/evaluation.py``).

The run directories are written by hand (config and untrained, random weights and
thresholds, as ``train`` leaves them): the evaluation only shows them images. The default
tests use the runtime device and one filter (nothing to compile); the slow ones use the
compiled network of 25 filters, killed with ``kill -9`` mid-evaluation
(``tests/fault_child.py``), on two Dask workers, and the network built without plasticity
against the training binary frozen by its run values.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brainlearn import rundir
from brainlearn.models.lcsnn import __main__ as lcsnn_cli
from brainlearn.models.lcsnn import evaluation, training
from brainlearn.models.lcsnn.evaluation import PARTS, EvaluationPlan, PartStore, part_arrays
from brainlearn.models.lcsnn.network import ChunkOutput, compile_network, present_all

FAULT_CHILD = Path(__file__).resolve().parent / "fault_child.py"


def _trained(run: Path, filters: int = 1, chunk: int = 5, device: str = "runtime",
             seed: int = 4) -> Path:
    """A run directory as ``train`` leaves it, with random weights and thresholds."""
    config = training._config(filters, "embedded", seed, 100, 1, None, None, device, None,
                              {"decay_every": chunk})
    p = training.load_params(config)
    rundir.write_config(run, config, kind=training.KIND)
    rng = np.random.default_rng(seed)
    rundir.write_weights(run, p.initial_weights(rng), theta=rng.random(p.n_neurons) * 1e-3)
    return run


def _arrays(run: Path) -> dict:
    with np.load(run / training.EVALUATION) as f:
        return {k: f[k] for k in f.files}


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


#: 3 chunks of 5 images; the vote and the n-gram readouts (the spikes' steps and order)
SMALL = {"assign_examples": 10, "test_examples": 5, "progress": False,
         "readouts": ("vote", "ngram")}


def test_an_interrupted_evaluation_runs_only_its_missing_chunks_to_the_serial_result(
        tmp_path, monkeypatch):
    monkeypatch.setattr(training, "_plots", lambda run: None)  # figures: not under test
    whole, stopped = _trained(tmp_path / "whole"), _trained(tmp_path / "stopped")
    expected = training.evaluate(whole, **SMALL)
    real, calls = evaluation.present_chunk, []

    def stops_in_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "present_chunk", stops_in_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        training.evaluate(stopped, **SMALL)
    assert not (stopped / training.EVALUATION).exists()
    assert sorted(p.name for p in (stopped / PARTS).glob("*.npz")) == [
        "assign_000000.npz", "assign_000001.npz"]

    calls.clear()
    monkeypatch.setattr(evaluation, "present_chunk",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = training.evaluate(stopped, **SMALL)
    assert len(calls) == 1  # only the test images' chunk ran again
    assert resumed["eval_resumed_images"] == 10 and expected["eval_resumed_images"] == 0
    _assert_same(_arrays(stopped), _arrays(whole))
    assert {k: v for k, v in resumed.items() if k.startswith("accuracy")} == {
        k: v for k, v in expected.items() if k.startswith("accuracy")}
    assert not (stopped / PARTS).exists() and not (whole / PARTS).exists()
    assert not list(stopped.glob(".*tmp*"))

    # the chunks joined are what one serial pass over the images gives
    config, p, weights, theta = training.trained_state(whole)
    images, _ = training.load_images("embedded", "test", 5)
    with compile_network(p, p.decay_every, tmp_path / "ref", device="runtime") as sim:
        serial = present_all(sim, p, images, weights, theta, p.decay_every, config["seed"] + 1)
    assert np.array_equal(serial.counts, _arrays(whole)["test_counts"])
    assert np.array_equal(serial.spike_step, _arrays(whole)["test_spike_step"])


def _part(n: int = 5) -> ChunkOutput:
    return ChunkOutput(np.zeros(3), np.zeros(3), np.ones((n, 9), np.int32),
                       np.arange(n, dtype=np.int32), np.zeros(n, np.int32),
                       np.zeros(n, np.int32), n, 0, 0.1)


def test_kept_chunks_serve_only_the_same_weights_configuration_and_image_counts(tmp_path):
    run = _trained(tmp_path / "run")
    plan = EvaluationPlan(run, "embedded", {"assign": 10, "test": 5}, 5, 4, "runtime")

    def kept(key) -> bool:
        store = PartStore.open(run / PARTS, key)
        has = store.has("assign", 0)
        store.save("assign", 0, **part_arrays(_part(), 0.5))
        return has

    assert not kept(plan.key())
    assert kept(plan.key())  # the same evaluation again
    assert PartStore(run / PARTS).load("assign", 0)["counts"].sum() == 5 * 9
    assert not kept(dataclasses.replace(plan, n_examples={"assign": 20, "test": 5}).key())
    assert not kept(dataclasses.replace(plan, device="cpp_standalone").key())
    assert not kept(dataclasses.replace(plan, frozen=True).key())
    assert not kept(plan.key())
    weights = rundir.read_weights(run)
    rundir.write_weights(run, weights["weights"] * 0.5, theta=weights["theta"])
    assert not kept(plan.key())  # retrained weights: start over
    config = rundir.read_config(run)
    rundir.write_config(run, {**config, "seed": 5}, kind=training.KIND)
    assert not kept(plan.key())
    assert not list((run / PARTS).glob(".*tmp*"))


@pytest.mark.parametrize("command", ["evaluate RUN", "curve --out RUN"])
def test_workers_below_one_is_refused_in_one_line(tmp_path, capsys, command):
    run = _trained(tmp_path / "run")
    argv = [str(run) if a == "RUN" else a for a in command.split()]
    assert lcsnn_cli.main([*argv, "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "workers" in err and "got 0" in err
    assert not (run / PARTS).exists()


# the compiled network, 25 filters, 300 + 200 images in chunks of 50


def _cli(run: Path, *extra: str, fault: str | None = None) -> subprocess.CompletedProcess:
    counts = ["--set", "assign_examples=300", "test_examples=200", *extra]
    if fault is None:
        return subprocess.run([sys.executable, "-m", "brainlearn.cli", "models", "evaluate",
                               str(run), *counts], capture_output=True, text=True)
    return subprocess.run([sys.executable, str(FAULT_CHILD), fault, "--", "models", "evaluate",
                           str(run), *counts], capture_output=True, text=True)


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory):
    """The same run evaluated serially by the training binary, killed (``kill -9`` half a
    second into its fourth compiled chunk) and resumed, on two workers, and by the frozen
    network (``frozen``)."""
    folder = tmp_path_factory.mktemp("lceval")
    serial = _trained(folder / "serial", filters=25, chunk=50, device="cpp_standalone")
    killed, workers, frozen = folder / "killed", folder / "workers", folder / "frozen"
    for copy in (killed, workers, frozen):
        shutil.copytree(serial, copy)
    done = _cli(serial)
    assert done.returncode == 0, done.stderr[-2000:]
    stopped = _cli(killed, fault="chunk:0.5@4")
    assert stopped.returncode == -9, f"not killed mid-evaluation: {stopped.stderr[-2000:]}"
    # kept chunks, not the temporary file of one being written when the kill came
    kept = len([p for p in (killed / PARTS).glob("*.npz") if not p.name.startswith(".")])
    resumed = _cli(killed)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    shared = _cli(workers, "workers=2")
    assert shared.returncode == 0, shared.stderr[-2000:]
    lean = _cli(frozen, "network=frozen")
    assert lean.returncode == 0, lean.stderr[-2000:]
    return {"serial": serial, "killed": killed, "workers": workers, "frozen": frozen,
            "kept": kept}


@pytest.mark.slow
def test_a_killed_compiled_evaluation_resumes_to_the_serial_arrays(evaluations):
    serial, killed, kept = evaluations["serial"], evaluations["killed"], evaluations["kept"]
    assert 3 <= kept < 10  # chunks finished before the kill, not all of them
    metrics = rundir.read_metrics(killed)
    assert metrics["eval_resumed_images"] == 50 * kept
    _assert_same(_arrays(killed), _arrays(serial))
    assert metrics["accuracy_ngram"] == rundir.read_metrics(serial)["accuracy_ngram"]
    assert not (killed / PARTS).exists()


@pytest.mark.slow
def test_two_workers_give_the_serial_arrays(evaluations):
    serial, workers = evaluations["serial"], evaluations["workers"]
    _assert_same(_arrays(workers), _arrays(serial))
    metrics = rundir.read_metrics(workers)
    assert metrics["eval_workers"] == 2 and metrics["accuracy"] == rundir.read_metrics(serial)["accuracy"]
    # the workers built in folders of their own, none in the serial evaluation's
    assert {p.name for p in workers.glob("build_eval_w*")} <= {"build_eval_w0", "build_eval_w1"}
    assert list(workers.glob("build_eval_w*")) and not (workers / "build").exists()
    assert not (workers / PARTS).exists()


@pytest.mark.slow
def test_the_frozen_network_shows_the_images_spike_for_spike_as_the_training_binary(
        evaluations):
    serial, frozen = evaluations["serial"], evaluations["frozen"]
    assert rundir.read_metrics(serial)["eval_network"] == "training"  # auto, 500 images
    assert rundir.read_metrics(frozen)["eval_network"] == "frozen"
    assert (frozen / "build_eval").is_dir() and not (frozen / "build").exists()
    _assert_same(_arrays(frozen), _arrays(serial))
