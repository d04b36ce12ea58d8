"""Diehl & Cook (2015) network: presentation protocol, normalisation, theta, vote, modes.

Small networks and shortened presentations in runtime mode (numpy target, no compilation)
check the mechanisms presentation by presentation; one small standalone run on the embedded
subset (killed mid-training and resumed) checks the whole job end to end.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from brian2 import StateMonitor, ms, second, volt

from brainlearn.chunked import ChunkedSimulation
from brainlearn.data import load_embedded
from brainlearn.models.diehl_cook import (
    CompiledNetwork,
    initial_state,
    load_npz,
    present_chunk,
)
from brainlearn.models.diehl_cook.model import (
    FROZEN_START,
    DiehlCookParams,
    build_network,
    synapse_order,
)

FAULT_CHILD = Path(__file__).resolve().parent / "fault_child.py"

# the killed-and-resumed run: the quick start demo's network (N=100 in chunks of 250,
# brainlearn.models.diehl_cook.runs.demo), so its training and frozen networks compile once in
# a test run (ccache, BRAINLEARN_COMPILE_LOCK); two chunks, killed in the second
KILLED_N, KILLED_CHUNK, KILLED_EXAMPLES = 100, 250, 500

# short presentations keep runtime-mode tests fast; the mechanisms are the same
SHORT = dict(t_input=60 * ms, t_rest=20 * ms, min_spikes=2)


def _images(n: int) -> np.ndarray:
    images, _ = load_embedded("train")
    return images[:n].reshape(n, -1).astype(float)


def _runtime_sim(params, n_neurons, n_table, delays, plastic, monitors,
                 frozen_start=FROZEN_START):
    def build():
        objs = build_network(params, n_neurons, n_table, delays, plastic=plastic,
                             frozen_start=frozen_start)
        extra = monitors(objs)
        objs["network"].add(*extra.values())
        objs.update(extra)
        return objs

    sim = ChunkedSimulation(build, 8 * n_table * params.period, "runtime")
    return CompiledNetwork(sim, params, n_table, synapse_order(delays, params.dt), plastic)


def _delays(state, n_neurons):
    return np.asarray(state.delays).reshape(784, n_neurons)


def _run(params, n_neurons, images, *, plastic=True, monitors=lambda objs: {}, seed=3, state=None):
    """One runtime run from ``state`` (default the initial one): objects, state, result."""
    state = state or initial_state(params, n_neurons, seed)
    delays = _delays(initial_state(params, n_neurons, seed), n_neurons)
    net = _runtime_sim(params, n_neurons, len(images), delays, plastic, monitors)
    try:
        result = present_chunk(net, images, state, 0, len(images), seed)
    finally:
        net.close()
    return net.sim.objects, state, result


def test_weights_of_each_neuron_sum_to_78_at_every_presentation_start():
    params = DiehlCookParams(**SHORT)
    n = 6

    def monitors(objs):
        # right after the normalisation (orders 1-2) at every presentation start
        return {"wmon": StateMonitor(objs["syn"], "w", record=True, dt=params.period,
                                     when="before_thresholds", order=5)}

    objs, _, result = _run(params, n, _images(6), monitors=monitors)
    assert result.done == 6
    w = np.asarray(objs["wmon"].w_)  # (synapses, presentations)
    assert w.shape[1] >= 6
    post = np.asarray(objs["syn"].j[:])
    sums = np.stack([w[post == j].sum(axis=0) for j in range(n)])
    assert np.all(np.bincount(post) == 784)
    np.testing.assert_allclose(sums, 78.0, rtol=1e-9)
    # and STDP changed the weights between presentations (so the check is not trivial)
    assert np.abs(np.diff(w, axis=1)).max() > 1e-4
    assert result.counts.sum() > 0


def test_theta_rises_only_with_spikes_and_is_frozen_when_testing():
    params = DiehlCookParams(**SHORT)
    n = 8
    images = _images(5)
    _, before, trained = _run(params, n, images)
    after = trained.state
    n_spikes = np.bincount(trained.spikes["neuron"], minlength=n)
    assert n_spikes.sum() > 0
    gain = (after.theta - before.theta) / volt
    theta_plus = float(params.exc.theta_plus / volt)
    # theta also decays (tau_theta = 1e7 ms): a few microvolts over the run
    decay = before.theta / volt * np.expm1(-float(trained.end_time / params.exc.tau_theta))
    # (increments decay too after they are added: below 0.1 % of theta_plus here)
    np.testing.assert_allclose(gain, theta_plus * n_spikes + decay, rtol=0, atol=5e-8)
    assert np.all(gain[n_spikes == 0] < 0)

    frozen_start = after.frozen(after.weights, after.theta / volt)
    _, _, frozen = _run(params, n, images, plastic=False, state=frozen_start)
    assert len(frozen.spikes) > 0
    np.testing.assert_array_equal(frozen.state.theta, after.theta)
    np.testing.assert_array_equal(frozen.state.w, after.w)


def test_the_frozen_network_has_no_plasticity_code():
    """The frozen (evaluation) network carries none of the training's plasticity: no traces,
    no pre-spike times, no weight-sum upkeep or normalisation, theta a constant of the run
    (neither integrated nor raised by spikes), the weights a constant that ``on_pre`` only
    adds to the conductance. The training network has all of it (the check can fail)."""
    from brainlearn.devices import use_device

    params = DiehlCookParams(**SHORT)
    delays = np.zeros((784, 4))
    plastic_only = {"theta_on", "post1", "post2", "wsum", "norm_factor"}
    with use_device("runtime"):
        trained = build_network(params, 4, 2, delays, plastic=True)
        assert plastic_only <= set(trained["exc"].variables)
        assert {"tpre"} <= set(trained["syn"].variables)
        assert {"normalise", "norm_factor", "weight_sum"} <= set(trained)
        frozen = build_network(params, 4, 2, delays, plastic=False)
        exc, syn = frozen["exc"], frozen["syn"]
        assert not plastic_only & set(exc.variables)
        assert not {"tpre", "pre", "Apre", "Apost"} & set(syn.variables)
        assert not {"normalise", "norm_factor", "weight_sum"} & set(frozen)
        assert exc.variables["theta"].constant and syn.variables["w"].constant
        # theta appears in the threshold only; nothing updates it or the weights
        assert "theta" not in str(exc.equations.diff_eq_names)
        assert "theta" not in exc.event_codes["spike"]
        assert "theta" in exc.events["spike"]
        assert [p.code.strip() for p in syn._pathways] == ["ge_post += w"]


def test_blank_image_triggers_retries_and_stops_at_the_cap():
    params = DiehlCookParams(**SHORT, max_retries=3)
    images = np.zeros((2, 784))
    images[1] = _images(1)[0]  # a real image after the blank one

    def monitors(objs):
        return {}

    objs, _, result = _run(params, 5, images, monitors=monitors)
    pres = objs["presentations"]
    shown = np.asarray(pres.example_).round().astype(int)
    intensity = np.asarray(pres.intensity_)
    blank = shown == 0
    # the blank image is shown 1 + max_retries times, intensity rising by one each time
    assert blank.sum() == 4
    np.testing.assert_array_equal(intensity[blank], [2, 3, 4, 5])
    assert result.capped >= 1
    assert result.done == 2
    # intensity returns to its start value for the next image
    assert intensity[shown == 1][0] == 2


@pytest.fixture(scope="module")
def killed_and_resumed_run(tmp_path_factory):
    """Train on the embedded subset, kill the process (``kill -9``) half a second into its
    second and last compiled chunk (250 images, about 1.5 s of a quiet machine), after the
    first checkpoint, then resume. The kill follows the run's own progress
    (``tests/fault_child.py``, fault ``chunk:0.5@2``), not a clock: on a loaded machine the
    compile may take many minutes and the kill still lands mid-training."""
    run_dir = tmp_path_factory.mktemp("dc") / "run"
    train = ["mnist", "train", "--neurons", str(KILLED_N), "--examples", str(KILLED_EXAMPLES),
             "--data", "embedded", "--chunk", str(KILLED_CHUNK), "--seed", "1", "--no-progress",
             "--out", str(run_dir)]
    killed = subprocess.run([sys.executable, str(FAULT_CHILD), "chunk:0.5@2", "--", *train],
                            capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, (
        f"training was not killed mid-run (exit {killed.returncode}): {killed.stderr[-2000:]}")
    killed_at = json.loads(str(load_npz(run_dir / "checkpoint.npz")["meta"]))["position"]
    assert killed_at is not None and killed_at < KILLED_EXAMPLES, (
        "training finished before it was killed")
    resumed = subprocess.run(
        [sys.executable, "-m", "brainlearn.cli", "mnist", "train", "--resume", str(run_dir),
         "--no-progress", "--profile"], capture_output=True, text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "profile (share of the simulation time)" in resumed.stdout
    evaluated = subprocess.run(
        [sys.executable, "-m", "brainlearn.cli", "mnist", "evaluate", str(run_dir),
         "--assign-examples", "1000", "--test-examples", "500", "--no-progress",
         "--readout", "vote,logistic,online"],
        capture_output=True, text=True,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    return run_dir, killed_at


def test_killed_run_resumes_to_the_full_example_count(killed_and_resumed_run):
    run_dir, killed_at = killed_and_resumed_run
    assert KILLED_CHUNK <= killed_at < KILLED_EXAMPLES
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train_examples"] == KILLED_EXAMPLES
    ckpt = load_npz(run_dir / "checkpoint.npz")
    assert json.loads(str(ckpt["meta"]))["position"] == KILLED_EXAMPLES
    weights = load_npz(run_dir / "weights.npz")
    w = weights["weights"]
    assert w.shape == (784, KILLED_N) and np.all(np.isfinite(w)) and w.min() >= 0
    # the weights were normalised before the last presentation and changed little since
    np.testing.assert_allclose(w.sum(axis=0), 78.0, rtol=0.05)
    # the evaluation counts the cells that fire from rest: theta below -65 + 52 + 20 = 7 mV
    assert metrics["cells_fire_at_rest"] == np.count_nonzero(weights["theta"] < 7e-3)
    # and the cells above it that fire in more than half of the test images, from the counts
    with np.load(run_dir / "eval_counts.npz") as z:
        counts = z["test_counts"]
    fires = (counts > 0).mean(axis=0)
    assert metrics["unselective_cells"] == np.count_nonzero(
        (fires > 0.5) & (weights["theta"] >= 7e-3))
    above = weights["theta"] >= 7e-3
    per_cell = counts.sum(axis=0)
    assert per_cell[metrics["busiest_cell"]] == (per_cell[above].max() if above.any()
                                                 else per_cell.max())
    assert metrics["busiest_cell_images"] == fires[metrics["busiest_cell"]]
    assert not list(run_dir.glob(".*tmp*")), "a temporary file was left behind"


def test_a_profiled_resume_writes_the_time_per_code_object(killed_and_resumed_run):
    """``--profile`` (the resumed part of the fixture's run): Brian2's profile summed over the
    chunks, largest first, with the input synapses and the cells' state update in it."""
    run_dir, _ = killed_and_resumed_run
    profile = pd.read_csv(run_dir / "profile.csv")
    assert list(profile.columns) == ["code_object", "seconds", "share"]
    assert (profile["seconds"] >= 0).all() and profile["seconds"].sum() > 0
    assert profile["seconds"].is_monotonic_decreasing
    assert profile["share"].sum() == pytest.approx(1.0)
    names = " ".join(profile["code_object"])
    assert "syn_pre" in names and "exc_stateupdater" in names


def test_a_self_stopped_chunk_carries_pre_spike_times_from_its_true_stop(killed_and_resumed_run):
    """A compiled chunk stops itself one step into the presentation after its last image;
    the pre-spike times carried to the next chunk are relative to that stop. The last input
    spike falls near the end of the last image's 350 ms window and arrives up to 10 ms later,
    then 150 ms of rest pass: the latest carried arrival lies 140-150.5 ms before the stop
    (reading the compiled end time instead put it tens of seconds back)."""
    run_dir, _ = killed_and_resumed_run
    p = DiehlCookParams()
    latest = float(load_npz(run_dir / "checkpoint.npz")["syn.tpre"].max())
    lower = -float((p.t_rest + p.dt) / second) - 1e-9
    upper = -float((p.t_rest - p.max_delay) / second) + 1e-9
    assert lower <= latest <= upper, latest


def test_accuracy_on_embedded_subset_is_well_above_chance(killed_and_resumed_run):
    run_dir, _ = killed_and_resumed_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("neurons", "train_examples", "presentations", "train_seconds",
                "ms_per_example", "assign_examples", "test_examples", "accuracy",
                "eval_seconds"):
        assert key in metrics
    assert metrics["test_examples"] == 500
    # chance is 10 %; 500 training images with 100 neurons reach about 60 % (vote)
    assert metrics["accuracy"] > 0.35
    # the vote, recomputed from the recorded counts as the paper describes it: each neuron
    # takes the class of its highest mean count, an image the class whose neurons respond most
    counts = np.load(run_dir / "eval_counts.npz")
    a_counts, a_labels = counts["assign_counts"], counts["assign_labels"]
    means = np.stack([a_counts[a_labels == c].mean(axis=0) for c in range(10)])
    assigned = np.where(a_counts.sum(axis=0) > 0, means.argmax(axis=0), -1)
    t_counts = counts["test_counts"]
    votes = np.stack([t_counts[:, assigned == c].mean(axis=1) if (assigned == c).any()
                      else np.full(len(t_counts), -np.inf) for c in range(10)], axis=1)
    expected = float((votes.argmax(axis=1) == counts["test_labels"]).mean())
    assert metrics["accuracy_vote"] == pytest.approx(expected, abs=1 / 500)
    # supervised readouts of the same counts do at least about as well as the vote
    assert metrics["accuracy_logistic"] > 0.35
    assert metrics["accuracy_online"] > 0.35


def test_evaluation_records_the_spike_trains_its_counts_were_taken_from(killed_and_resumed_run):
    """Both passes save, per image, the spikes of the window its counts come from (its last
    presentation's 350 ms of input), timed from that window's start: the e-prop readout's
    trains. Replayed at the network's dt they hold exactly the recorded counts."""
    from brainlearn.models.eprop import recorded_trains
    from brainlearn.rundir import read_window_spikes

    run_dir, _ = killed_and_resumed_run
    counts = np.load(run_dir / "eval_counts.npz")
    steps = round(float(DiehlCookParams().t_input / DiehlCookParams().dt))  # 700
    for stage, n in (("assign", 1000), ("test", 500)):
        spikes, attrs = read_window_spikes(run_dir, stage)
        assert attrs["window"] == pytest.approx(0.35) and attrs["n_examples"] == n
        t = spikes["t"].to_numpy()
        assert t.min() >= 0 and t.max() < 0.35
        np.testing.assert_allclose(t / 0.0005, np.round(t / 0.0005), atol=1e-6)  # dt grid
        trains, labels = recorded_trains(run_dir, stage, steps)
        assert trains.shape == (n, steps, KILLED_N)
        np.testing.assert_array_equal(labels, counts[f"{stage}_labels"])
        np.testing.assert_array_equal(trains.sum(axis=1), counts[f"{stage}_counts"],
                                      err_msg=stage)
        assert trains.sum() == len(spikes) > 0
    # spike timing within the window is not uniform: the first spikes of an image come late
    first = read_window_spikes(run_dir, "test")[0].groupby("example")["t"].min()
    assert first.median() > 0.01


def test_analyze_reads_the_presentations_actually_shown(killed_and_resumed_run):
    """The evaluation records when each test image started and how long it was shown
    (retries make some last longer); analyze uses those, and the saved weights."""
    from brainlearn.analysis import load_run_examples, load_run_spikes
    from brainlearn.cli import main
    from brainlearn.models.diehl_cook.evaluation import frozen_params
    from brainlearn.rundir import read_weights

    run_dir, _ = killed_and_resumed_run
    period = float(frozen_params(DiehlCookParams()).period / second)  # the frozen network's
    examples = load_run_examples(run_dir)
    assert len(examples) == 500
    shown = examples["duration"].to_numpy() / period
    np.testing.assert_allclose(shown, np.round(shown), atol=1e-9)  # whole presentations
    assert shown.min() >= 1 and shown.max() <= 1 + DiehlCookParams().max_retries
    # examples follow each other without overlaps (within a run without gaps; the pass's
    # clock also counts the time between runs)
    ends = (examples["start"] + examples["duration"]).to_numpy()
    gaps = examples["start"].to_numpy()[1:] - ends[:-1]
    assert gaps.min() > -1e-9 and np.mean(np.abs(gaps) < 1e-9) > 0.9
    spikes = load_run_spikes(run_dir)
    start = examples["start"].to_numpy()[spikes["example"]]
    end = ends[spikes["example"]]
    assert np.all((spikes["t"].to_numpy() >= start - 1e-9) & (spikes["t"].to_numpy() < end))
    counts = np.load(run_dir / "eval_counts.npz")["test_counts"]
    # every counted spike (last presentation's input window) is in the spike table
    per_example = np.bincount(spikes["example"], minlength=500)
    assert np.all(per_example >= counts.sum(axis=1))
    assert main(["analyze", str(run_dir)]) == 0
    out = run_dir / "analysis"
    for name in ("rates.csv", "cv.csv", "fano.csv", "class_rates.csv", "raster.png", "psth.png",
                 "rates.png", "receptive_fields.png", "weights.png"):
        assert (out / name).stat().st_size > 0, name
    rates = pd.read_csv(out / "rates.csv")
    assert len(rates) == read_weights(run_dir)["weights"].shape[1] == KILLED_N


def test_corrupt_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    with pytest.raises(ValueError, match="corrupt"):
        load_npz(path)


def test_state_stays_in_row_order_while_the_network_groups_synapses_by_delay():
    params = DiehlCookParams(**SHORT)
    n = 5
    objs, before, result = _run(params, n, _images(3))
    syn = objs["syn"]
    i, j = np.asarray(syn.i[:]), np.asarray(syn.j[:])
    delays = _delays(before, n)
    # the network holds each input cell's synapses together, sorted by delay (in steps)
    steps = np.round(np.asarray(syn.delay_[:]) / float(params.dt / second)).astype(int)
    assert np.all(np.diff(i) >= 0)
    assert np.all((np.diff(steps) >= 0) | (np.diff(i) > 0))
    np.testing.assert_allclose(np.asarray(syn.delay_[:]), delays[i, j], atol=1e-12)
    # the returned state is the (784, n) row-order matrix of the network's weights
    np.testing.assert_array_equal(result.state.weights[i, j], np.asarray(syn.w_[:]))
    order = synapse_order(delays, params.dt)
    np.testing.assert_array_equal(np.sort(order), np.arange(784 * n))


def test_theta_plus_option_is_checked_recorded_and_used():
    from brian2 import mV, uvolt

    from brainlearn.models.diehl_cook import TrainConfig, run_params

    config = TrainConfig.create(neurons=10, examples=5, theta_plus=12.5 * uvolt)
    assert run_params(config).exc.theta_plus == 12.5 * uvolt
    assert run_params(TrainConfig.create(neurons=10, examples=5)).exc.theta_plus == 0.05 * mV
    with pytest.raises(ValueError, match="theta_plus must be a quantity in mV"):
        TrainConfig.create(neurons=10, theta_plus=0.0125)
    with pytest.raises(ValueError, match="theta_plus must be positive"):
        TrainConfig.create(neurons=10, theta_plus=-1 * mV)
    # config.json keeps theta_plus in volts, and reads back as the same config
    stored = json.loads(json.dumps(config.to_json()))
    assert stored["theta_plus"] == pytest.approx(12.5e-6) and stored["param_set"] == "paper"
    assert TrainConfig.from_json(stored) == config


def test_config_and_checkpoint_of_an_older_run_still_load(tmp_path):
    """A config.json written before integration, param_set and theta_plus were options (plus
    the keys a run adds: kind, params, code_version) and a checkpoint keyed by
    ``object.variable`` load as typed config and state, and save back to the same keys."""
    from brainlearn.models.diehl_cook import Checkpoint, TrainConfig, TrainProgress

    old = {"chunk": 1000, "code_version": "32304a3", "data": "full", "device": "cpp_standalone",
           "epochs": 7.0, "examples": 420000, "kind": "diehl_cook", "neurons": 1600,
           "params": {"dt": "0.5 ms"}, "seed": 0, "threads": None, "timer": "brian1"}
    config = TrainConfig.from_json(old)
    assert (config.neurons, config.examples, config.integration, config.param_set) == (
        1600, 420000, "euler", "paper")
    assert config.theta_plus is None and config.code_version == "32304a3"
    assert {k: v for k, v in config.to_json().items() if k in old} == {
        k: v for k, v in old.items() if k not in ("kind", "params")}

    params = DiehlCookParams(**SHORT)
    state = initial_state(params, 4, 1)
    arrays = {**state.to_arrays(), "pending.counts": np.arange(4, dtype=np.int32)}
    assert {"syn.w", "syn.tpre", "delays", "exc.theta", "exc.post1", "inh.v",
            "controller.intensity", "controller.retries"} <= set(arrays)
    meta = {"position": 300, "chunk_index": 3, "presentations": 310, "capped": 0,
            "train_seconds": 1.0, "compile_seconds": 2.0, "training_accuracy": [[200, 0.5]]}
    from brainlearn.atomic import save_npz

    save_npz(tmp_path / "checkpoint.npz", meta=np.array(json.dumps(meta)), **arrays,
             prev_counts=np.ones((2, 4)), prev_labels=np.array([1, 2]))
    ckpt = Checkpoint.load(tmp_path / "checkpoint.npz")
    assert ckpt.progress == TrainProgress(**meta)
    assert ckpt.state.theta.has_same_dimensions(volt) and ckpt.state.tpre.has_same_dimensions(second)
    ckpt.save(tmp_path / "again.npz")
    again = load_npz(tmp_path / "again.npz")
    assert set(again) == set(arrays) | {"meta", "prev_counts", "prev_labels"}
    for key, value in arrays.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


def test_spike_budget_is_the_equilibrium_of_theta():
    from brian2 import mV

    p = DiehlCookParams()
    # 100 cells at theta = 40 mV: 100 * 0.04 V * 0.5 s / (5e-5 V * 1e4 s) = 4 spikes
    assert p.spike_budget(100, 40 * mV) == pytest.approx(4.0)
    assert p.spike_budget(400, 40 * mV) == pytest.approx(16.0)
    smaller = p.replace(exc=p.exc.replace(theta_plus=0.0125 * mV))
    assert smaller.spike_budget(100, 40 * mV) == pytest.approx(16.0)


def test_runs_that_end_mid_image_keep_each_image_last_presentation_counts():
    """Runs of a fixed length (as under cuda_standalone, which cannot stop a run itself) end
    at presentation boundaries whose accept-or-retry decision the next run takes. Every image
    must still be counted from its own last presentation, recomputed here from the spikes."""
    from brainlearn.models.diehl_cook import frozen_chunks

    params = DiehlCookParams(**SHORT)
    n, k, per_run = 6, 10, 3
    images = _images(k)
    state = initial_state(params, n, 5)
    net = _runtime_sim(params, n, 4, _delays(state, n), False, lambda objs: {})
    net.sim.duration = per_run * params.period  # every run: three presentations, no self-stop
    try:
        (part,) = frozen_chunks(net, images, state, k, "test", 9, [0], span=k)
    finally:
        net.close()
    counts, spikes = part.record.counts, part.record.spikes
    assert counts.shape == (k, n)
    period, t_input = float(params.period / second), float(params.t_input / second)
    pres = np.floor(spikes["t"].to_numpy() / period + 1e-9).astype(int)
    in_window = spikes["t"].to_numpy() - pres * period < t_input - 1e-9
    last = {e: pres[spikes["example"].to_numpy() == e].max() for e in range(k)}
    for e in range(k):
        sel = (spikes["example"].to_numpy() == e) & (pres == last[e]) & in_window
        expected = np.bincount(spikes["neuron"].to_numpy()[sel], minlength=n)
        np.testing.assert_array_equal(counts[e], expected, err_msg=f"image {e}")
    # every image was accepted with enough spikes (none lost at a run boundary) ...
    assert np.all(counts.sum(axis=1) >= params.min_spikes)
    # ... and some were accepted in the first step of the run after the one that showed them
    assert any((last[e] + 1) % per_run == 0 for e in range(k - 1))


def test_a_run_that_cannot_stop_itself_ends_in_the_state_of_one_that_did(monkeypatch):
    """Under cuda_standalone ``stop_network`` does nothing: the run idles (no input, no
    decisions) to its fixed end after the last image. Replayed here in runtime mode with the
    same seed, its results and state must equal those of a run that stopped itself."""
    from brian2 import Function

    from brainlearn.models.diehl_cook import model as diehl_cook_2015
    params = DiehlCookParams(**SHORT)
    n, k = 6, 5
    images = _images(k)
    state = initial_state(params, n, 4)
    delays = _delays(state, n)
    results, simulated = {}, {}
    for mode in ("stops", "idles"):
        if mode == "idles":
            noop = Function(lambda cond: np.zeros(np.shape(cond)), arg_units=[1], return_unit=1,
                            arg_types=["boolean"], return_type="float")
            monkeypatch.setattr(diehl_cook_2015, "stop_network", noop)
        net = _runtime_sim(params, n, k, delays, True, lambda objs: {})
        if mode == "idles":
            net.sim.duration = 30 * params.period  # ends long after the last image
            net.sim.stops_itself = False
        try:
            results[mode] = present_chunk(net, images, state, 0, k, 21)
            simulated[mode] = float(net.sim.objects["network"].t / second)
        finally:
            net.close()
    ra, rb = results["stops"], results["idles"]
    a, b = ra.state, rb.state
    assert simulated["idles"] > simulated["stops"] + 5 * float(params.period / second)
    # both report the time the run stopped deciding (one step into the next presentation)
    assert float(ra.end_time / second) == pytest.approx(simulated["stops"], abs=1e-12)
    assert float(rb.end_time / second) == pytest.approx(float(ra.end_time / second), abs=1e-12)
    assert ra.done == rb.done == k
    np.testing.assert_array_equal(ra.counts, rb.counts)
    assert len(ra.spikes) == len(rb.spikes) > 0
    assert ra.capped == rb.capped  # idle presentations are not retries
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_allclose(b.theta / volt, a.theta / volt, rtol=1e-12)
    np.testing.assert_allclose(b.tpre / second, a.tpre / second, rtol=0, atol=1e-12)
    assert a.controller == b.controller


def _frozen_counts(params, n, images, state, seed=9, monitors=lambda objs: {},
                   start=FROZEN_START):
    """Counts of one frozen chunk (runtime) from ``state``, and the network's objects."""
    from brainlearn.models.diehl_cook import frozen_chunks

    delays = _delays(initial_state(params, n, 5), n)
    net = _runtime_sim(params, n, len(images), delays, False, monitors, start)
    try:
        (part,) = frozen_chunks(net, images, state, len(images), "test", seed, [0])
    finally:
        net.close()
    return part.record, net.sim.objects


def test_an_image_counts_do_not_depend_on_what_the_images_before_it_left():
    """By default (``frozen_start="rest"``) the frozen network starts every presentation
    from rest (v at rest, no conductance, not refractory) in its own code, and its short rest
    (frozen_params) lets the last input spikes of an image arrive before the next starts. So
    the same images with the same Poisson input (same seed) give the same counts whatever
    state the network was left in, and no input from an image reaches the next one."""
    from brainlearn.models.diehl_cook.evaluation import frozen_params

    trained = DiehlCookParams(**{**SHORT, "t_rest": 150 * ms})
    params = frozen_params(trained)
    assert params.period < trained.period and params.t_input == trained.t_input
    n, images = 6, _images(5)
    start = initial_state(params, n, 5)
    start = start.frozen(np.asarray(start.w).reshape(784, n) * 3, start.theta / volt)

    def monitors(objs):
        return {"trace": StateMonitor(objs["exc"], ["v", "ge", "gi"], record=True,
                                      dt=params.dt, name="trace")}

    rest, objects = _frozen_counts(params, n, images, start, monitors=monitors)
    # what a previous image leaves behind at its worst: every cell above threshold, driven,
    # inhibited, and the inhibitory cells likewise
    left = dataclasses.replace(
        start, v=np.full(n, -40e-3) * volt, ge=np.full(n, 5.0), gi=np.full(n, 2.0),
        inh_v=np.full(n, -30e-3) * volt, inh_ge=np.full(n, 5.0), inh_gi=np.full(n, 1.0))
    disturbed, _ = _frozen_counts(params, n, images, left)
    assert rest.counts.sum() > 0
    np.testing.assert_array_equal(disturbed.counts, rest.counts)
    pd.testing.assert_frame_equal(disturbed.spikes, rest.spikes)
    # in the step after every presentation's start the cells are at rest, with no input
    # arriving from the image before (the spike queue is empty)
    trace = objects["trace"]
    dt, period = float(params.dt / second), float(params.period / second)
    starts = rest.presentations["start"].to_numpy()
    steps = np.round((starts + dt) / dt).astype(int)
    assert len(starts) >= len(images) and np.asarray(trace.ge_).max() > 0
    np.testing.assert_array_equal(np.asarray(trace.ge_)[:, steps], 0.0)
    np.testing.assert_array_equal(np.asarray(trace.gi_)[:, steps], 0.0)
    np.testing.assert_allclose(np.asarray(trace.v_)[:, steps], float(params.exc.v_rest / volt))
    assert np.allclose(np.diff(starts) / period, np.round(np.diff(starts) / period))


def test_the_frozen_presentations_stay_on_the_time_step_grid():
    """Brian2's standalone loop runs the presentation clock (one tick per period) in the same
    step as the cells only while their times agree within 1e-14 s; otherwise the decision and
    the stop at the end of a chunk fall between two steps (a 360 ms period drifts off after 186
    presentations). The frozen network's shorter rest (the default, ``frozen_start="rest"``)
    keeps 200,000 presentations on the grid; the paper's protocol (``"carried"``) keeps the
    training's period."""
    from brainlearn.models.diehl_cook.evaluation import frozen_params

    trained = DiehlCookParams()
    assert frozen_params(trained, "carried") == trained
    params = frozen_params(trained)
    assert params.max_delay <= params.t_rest < trained.t_rest
    dt, period = float(params.dt / second), float(params.period / second)
    steps = round(period / dt)
    k = np.arange(1, 200_001, dtype=float)
    assert np.abs(k * period - (k * steps) * dt).max() <= 1e-14
    drifting = 0.36  # the input window plus the longest delay, 720 steps
    assert np.abs(k * drifting - (k * 720) * dt).max() > 1e-14


def test_a_cell_with_its_threshold_below_rest_is_held_down_as_in_the_paper():
    """A cell whose fixed threshold ``v_thresh - theta_offset + theta`` is below ``v_rest``
    (theta < 7 mV, as training leaves rarely winning cells of a large network) fires at the
    start of every image when every presentation starts from rest (the default,
    ``frozen_start="rest"``). In the paper's protocol (``"carried"``) the state is carried from
    image to image and the chunk starts from the initial state (v at -105 mV): the inhibition
    of the cells that answer the images holds it below its threshold, so it fires at no
    image's start; without that inhibition (``w_inh_exc = 0``) it crosses its threshold within
    the same images."""
    from brainlearn.models.diehl_cook.evaluation import frozen_params

    n, images = 6, _images(12)
    base = DiehlCookParams(**SHORT)
    start = initial_state(base, n, 5)
    theta = np.asarray(start.theta / volt).copy()
    theta[-1] = 6e-3  # threshold -66 mV, 1 mV below rest
    w = np.asarray(start.w).reshape(784, n) * 3
    w[:, -1] = 0.0  # no input: only its threshold and the inhibition act on it
    start = start.frozen(w, theta)
    threshold = float((base.exc.v_thresh - base.exc.theta_offset) / volt) + theta[-1]
    assert threshold < float(base.exc.v_rest / volt)

    def monitors(objs):
        return {"trace": StateMonitor(objs["exc"], "v", record=[n - 1], dt=base.dt,
                                      name="trace")}

    def run(frozen_start, params):
        params = frozen_params(params, frozen_start)
        record, objects = _frozen_counts(params, n, images, start, monitors=monitors,
                                         start=frozen_start)
        dt = float(params.dt / second)
        starts = record.presentations["start"].to_numpy()
        low = record.spikes[record.spikes["neuron"] == n - 1]["t"].to_numpy()
        # presentations in which the cell fired within 2 ms of the start
        at_start = [np.any((low >= s - 1e-9) & (low < s + 2e-3)) for s in starts]
        v = np.asarray(objects["trace"].v_)[0, np.round(starts / dt).astype(int)]
        return record, np.asarray(at_start), v

    rest, at_start, _ = run("rest", base)
    assert at_start.all() and (rest.counts[:, -1] >= 1).all()
    carried, at_start, v = run("carried", base)
    assert carried.counts[:, :-1].sum() > 0  # the other cells answer the images
    assert not at_start.any()
    assert np.all(v < threshold)
    # the inhibition is what holds it: without it the cell gets to its threshold, and as its
    # reset is above its threshold it then fires every refractory period
    free, _, _ = run("carried", base.replace(w_inh_exc=0.0))
    assert free.counts[:, -1].sum() > carried.counts[:, -1].sum()
    assert free.counts[-1, -1] == round(float(base.t_input / base.exc.refractory))


def test_standalone_and_runtime_give_the_same_run(tmp_path):
    """Same seed and model: the chunk's seed starts the same Mersenne Twister in both modes
    (Brian2's C++ random numbers are numpy's legacy generator) and the network draws in the
    same order, so a standalone chunk and a runtime one show the same spikes, count the
    same, and end with the same weights and thresholds (to rounding: numpy and C++ sum in
    different orders). The standalone network is ``tests/test_faults.py``'s
    reference run's (10 cells, the paper's presentations, chunks of 5; built first, before
    any runtime object takes a name), so a test run compiles it once (ccache,
    ``BRAINLEARN_COMPILE_LOCK``); last in this file, by when that file has built it."""
    from brainlearn.models.diehl_cook import make_sim

    params = DiehlCookParams()
    n, k = 10, 5
    images = _images(k)
    state = initial_state(params, n, 7)
    delays = _delays(state, n)
    config = {"neurons": n, "chunk": k, "device": "cpp_standalone", "threads": None}
    results = {}
    for mode in ("cpp_standalone", "runtime"):
        if mode == "runtime":
            net = _runtime_sim(params, n, k, delays, True, lambda objs: {})
        else:
            net = make_sim(config, params, tmp_path, True, delays)
        try:
            results[mode] = present_chunk(net, images, state, 0, k, 11)
        finally:
            net.close()
    a, b = results["runtime"], results["cpp_standalone"]
    assert a.done == b.done == k
    assert a.counts.sum(axis=1).min() >= params.min_spikes  # every image answered
    np.testing.assert_array_equal(a.counts, b.counts)
    pd.testing.assert_frame_equal(a.spikes, b.spikes, check_dtype=False, rtol=0, atol=1e-9)
    assert np.abs(a.state.w - state.w).max() > 1e-4  # STDP changed the weights
    np.testing.assert_allclose(a.state.w, b.state.w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.state.theta / volt, b.state.theta / volt, rtol=1e-12)
