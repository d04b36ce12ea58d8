"""The LC-SNN's one binary and its published-curve commands.

* One compiled network trains and evaluates: frozen by its run values (no learning, no
  threshold change, no bound, every normalisation a multiply by 1), the plastic network
  shows images spike for spike as the network built without plasticity, and gives back the
  weights and thresholds it was given (runtime device: no compilation).
* ``python -m brainlearn.models.lcsnn table``: every size of the curve, mean +- sd over the
  evaluated seeds, where the other seeds stand, and the command of each row; ``curve
  --filters --seeds`` runs just those (run directories written by hand: no network).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from brian2 import second

from brainlearn import rundir
from brainlearn.atomic import save_npz
from brainlearn.chunked import ChunkedSimulation
from brainlearn.data import load_embedded
from brainlearn.models.lcsnn import __main__ as cli
from brainlearn.models.lcsnn import training
from brainlearn.models.lcsnn.model import LCSNNParams, build_network, crop_images, synapse_order
from brainlearn.models.lcsnn.network import compile_network, present_chunk


def test_the_training_binary_frozen_by_its_run_values_spikes_as_the_frozen_network(tmp_path):
    p = LCSNNParams(n_filters=2, kernel=12, stride=4)
    rng = np.random.default_rng(3)
    weights = 2.5 * rng.random(p.n_synapses)  # many above the rule's bound of 1
    theta = rng.random(p.n_neurons) * 2e-3
    images, _ = load_embedded("test")
    pixels = crop_images(images[:4], p.crop)
    n = len(pixels)

    sim = compile_network(p, n, tmp_path, device="runtime")
    out = present_chunk(sim, p, pixels, weights, theta, seed=7)
    objects = sim.objects
    one_binary = (np.asarray(objects["spikes"].t_[:]), np.asarray(objects["spikes"].i_[:]))
    sim.close()

    duration = (p.max_retries + 1) * n * p.t_input + 2 * p.t_input
    with ChunkedSimulation(lambda: build_network(p, n, plastic=False), duration,
                           "runtime") as frozen:
        ref = frozen.run({"syn.w": weights[synapse_order(p)], "exc.theta": theta,
                          "controller.limit": np.array([float(n)])}, pixels, seed_value=7)
        reference = (np.asarray(ref["spikes"].t_[:]), np.asarray(ref["spikes"].i_[:]))

    assert len(reference[0]) > 20  # the cells did fire
    assert np.array_equal(one_binary[0], reference[0])
    assert np.array_equal(one_binary[1], reference[1])
    assert np.array_equal(out.weights, weights) and np.array_equal(out.theta, theta)
    assert float(objects["network"].t / second) > 0


def _run(folder, filters, seed, accuracy=None, position=None, assign=60000):
    """A run directory of the curve as train/evaluate leave it (written by hand)."""
    run = folder / f"f{filters}_s{seed}"
    p = LCSNNParams.paper(filters)
    rundir.write_config(run, {"model": "lcsnn", "n_filters": filters, "kernel": p.kernel,
                              "stride": p.stride, "data": "full", "seed": seed}, kind="lcsnn")
    if accuracy is not None:
        rundir.update_metrics(run, {
            "neurons": p.n_neurons, "synapses": p.n_synapses, "train_examples": 60000,
            "assign_examples": assign, "test_examples": 10000, "train_seconds": 3600.0 * (1 + seed),
            **{f"accuracy_{r}": accuracy + k / 100 for k, r in
               enumerate(("vote", "ngram", "logistic", "online"))},
            "accuracy": accuracy})
    if position is not None:
        save_npz(run / training.CHECKPOINT, position=np.int64(position))
    return run


def test_the_table_gives_every_size_its_mean_and_sd_over_seeds_status_and_command(tmp_path):
    folder = tmp_path / "curve"
    votes = [0.80, 0.83]
    for seed, vote in enumerate(votes):
        _run(folder, 25, seed, accuracy=vote, assign=(10000, 60000)[seed])
    _run(folder, 25, 2, position=4000)
    table = cli.curve_table(str(folder), str(tmp_path / "curve.csv"), "runs/x")
    written = pd.read_csv(tmp_path / "curve.csv", dtype=str, keep_default_na=False)
    assert written["filters"].tolist() == ["25", "50", "100", "250", "500"]
    row = written.iloc[0]
    mean, sd = 100 * np.mean(votes), 100 * np.std(votes, ddof=1)
    assert row["vote %"] == f"{mean:.2f} +- {sd:.2f}"
    assert row["seeds"] == "2 of 3" and row["paper %"] == "84.01 +- 2.28"
    # the readouts' training images of every seed, so a row mixing two protocols says so
    assert row["readout images"] == "10,000, 60,000" and row["train images"] == "60,000"
    assert row["status"] == "seeds 0, 1 done; seed 2 training, 4,000 images"
    assert row["command"] == ("python -m brainlearn.models.lcsnn curve --out runs/x "
                              "--filters 25 --seeds 0 1 2")
    assert written.iloc[3]["status"] == "seed 0 queued" and written.iloc[3]["vote %"] == ""
    # the authors' protocol: over the runs that were scored by it, blank when none was
    assert row["ngram, authors' protocol %"] == ""
    rundir.update_metrics(folder / "f25_s1", {"authors_accuracy_ngram": 0.845})
    again = cli.curve_table(str(folder), str(tmp_path / "curve.csv"), "runs/x")
    assert again.iloc[0]["ngram, authors' protocol %"] == "84.50"
    assert written.iloc[3]["command"].endswith("--filters 250 --seeds 0")
    assert len(table) == 5
    # a seed beyond the curve's (``curve --filters 250 --seeds 0 1``) joins its row
    _run(folder, 250, 0, accuracy=0.92)
    _run(folder, 250, 1, accuracy=0.94)
    (folder / "f250_s1_copy").mkdir()  # not a seed's run directory
    row = cli.curve_table(str(folder), str(tmp_path / "curve.csv"), "runs/x").iloc[3]
    assert row["seeds"] == "2 of 2" and row["status"] == "seeds 0, 1 done"
    assert row["vote %"] == f"93.00 +- {100 * np.std([0.92, 0.94], ddof=1):.2f}"
    assert row["command"].endswith("--filters 250 --seeds 0 1")
    assert cli.main(["table", str(tmp_path / "empty_parent"), "--out",
                     str(tmp_path / "t.csv")]) == 1  # one line, no traceback


def test_curve_runs_only_the_sizes_and_seeds_asked_for(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train", lambda run, **kw: calls.append(("train", run.name)))
    monkeypatch.setattr(training, "evaluate", lambda run, **kw: calls.append(("evaluate", run.name)))
    _run(tmp_path, 50, 1, accuracy=0.88)  # finished: skipped
    assert cli.main(["curve", "--out", str(tmp_path), "--filters", "50", "--seeds", "0",
                     "1"]) == 0
    assert calls == [("train", "f50_s0"), ("evaluate", "f50_s0")]
    with pytest.raises(SystemExit):
        cli.main(["curve", "--out", str(tmp_path), "--filters", "many"])
