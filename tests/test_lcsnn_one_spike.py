"""The LC-SNN's one spike per step (``LCSNNParams(one_spike=True)``) against a step-by-step
reference of the cell layer.

BindsNET's ``DiehlAndCookNodes(one_spike=True)``, on in the authors' code: of the cells that
cross threshold in a step, one, chosen uniformly at random over the whole layer, emits its
spike (it inhibits the other filters at its location, learns and counts); every crossing cell
resets, raises theta and turns refractory. The network here is the compiled training binary
(cpp_standalone, brainlearn's threshold template), with its learning rate at 0 so that the
weights stay put while theta adapts. Its input spikes and presentations are recorded and the
reference (numpy, written from the equations above and Brian2's step order: leak, presentation
start, threshold, synaptic effects of the step's spikes, reset) replays the layer from them:
in every step the same cells must cross threshold, the network's one spike must be one of
them, and the thresholds must end where the reference's do, every crossing counted. Which
crossing cell spikes is the random part: over all steps with several crossing cells, its rank
among them must be uniform.
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import EventMonitor, SpikeMonitor, mV, second
from scipy import stats

from brainlearn.chunked import ChunkedSimulation
from brainlearn.data import load_embedded
from brainlearn.devices import use_device
from brainlearn.models.lcsnn.model import (
    LCSNNParams,
    build_network,
    crop_images,
    inhibition_pairs,
    receptive_fields,
)
from brainlearn.models.lcsnn.network import present_chunk


def _network(p: LCSNNParams, n: int):
    objects = build_network(p, n, plastic=True)
    objects["crossed"] = EventMonitor(objects["exc"], "crossed", name="crossed_cells")
    objects["input_spikes"] = SpikeMonitor(objects["input"], name="input_spikes")
    objects["network"].add(objects["crossed"], objects["input_spikes"])
    return objects


def _steps(monitor, step: float):
    return np.round(np.asarray(monitor.t_[:]) / step).astype(np.int64), np.asarray(monitor.i_[:])


def _reference(p: LCSNNParams, weights, theta, inputs, presentations, chosen_at, steps):
    """Cells crossing threshold per step and the final theta, replaying the layer from the
    recorded input spikes (``inputs``: step -> pixels), the presentations' images and the
    network's choice of the spiking cell (``chosen_at``: step -> cell)."""
    dt = float(p.dt / second)
    a = np.exp(-dt / float(p.tau_m / second))  # one step of leak
    b = np.exp(-dt / float(p.tau_theta / second))
    gain = np.exp(dt / float(p.tau_m / second))  # BindsNET adds after the leak
    rest, reset, thresh = (float(x / mV) for x in (p.v_rest, p.v_reset, p.v_thresh))
    refractory = int(round(float(p.refractory / p.dt)))
    period = int(round(float(p.t_input / p.dt)))
    pixel, cell = receptive_fields(p)
    W = np.zeros((p.n_neurons, p.n_inputs))
    W[cell, pixel] = weights
    inh_i, inh_j = inhibition_pairs(p)
    inhibits = [inh_j[inh_i == c] for c in range(p.n_neurons)]
    v = np.full(p.n_neurons, rest)
    th = np.asarray(theta, dtype=float) / 1e-3  # mV
    last = np.full(p.n_neurons, -10 ** 9)
    crossed_at = {}
    for s in range(steps):
        v = rest + (v - rest) * a
        th = th * b
        ready = (s - last) >= refractory
        k = s // period
        if s % period == 0 and (k == 0 or presentations[k] != presentations[k - 1]):
            v[:] = rest  # a new image (not a retry): back to rest, refractoriness over
            last[:] = -10 ** 9
            ready[:] = True
        crossed = np.flatnonzero((v >= thresh + th) & ready)
        crossed_at[s] = crossed
        last[crossed] = s
        ready[crossed] = False
        if s in inputs:
            v += gain * W[:, inputs[s]].sum(axis=1) * ready
        if s in chosen_at:
            targets = inhibits[chosen_at[s]]
            v[targets] -= float(p.w_inh / mV) * gain * ready[targets]
        v[crossed] = reset
        th[crossed] += float(p.theta_plus / mV)
    return crossed_at, th * 1e-3


@pytest.fixture(scope="module")
def one_spike_run(tmp_path_factory):
    p = LCSNNParams(n_filters=25, kernel=12, stride=4, one_spike=True)
    rng = np.random.default_rng(11)
    pixel, cell = receptive_fields(p)
    weights = p.initial_weights(rng)
    weights *= p.norm_total / np.bincount(cell, weights)[cell]  # normalised: no rescaling
    theta = rng.random(p.n_neurons) * 1e-3
    images, _ = load_embedded("train")
    pixels = crop_images(images[:4], p.crop)
    sim = ChunkedSimulation(lambda: _network(p, len(pixels)),
                            (p.max_retries + 1) * len(pixels) * p.t_input + 2 * p.t_input,
                            "cpp_standalone", tmp_path_factory.mktemp("one_spike"))
    try:
        out = present_chunk(sim, p, pixels, weights, theta, seed=5, learning_rate=0.0)
        o = sim.objects
        step = float(p.dt / second)
        record = {
            "spikes": _steps(o["spikes"], step), "crossed": _steps(o["crossed"], step),
            "inputs": _steps(o["input_spikes"], step),
            "presentations": np.asarray(o["presentations"].example_[:]).round().astype(int),
            "theta": np.asarray(o["exc"].theta_[:]).copy(),
            "presentation_steps": _steps(o["presentations"], step)[0],
        }
    finally:
        sim.close()
    return p, weights, theta, out, record


def test_one_crossing_cell_spikes_and_every_crossing_cell_resets_as_the_reference(one_spike_run):
    p, weights, theta, out, rec = one_spike_run
    # the run stops in the step of its last presentation event (after the last image)
    steps = int(rec["presentation_steps"][-1]) + 1
    spike_step, spike_cell = rec["spikes"]
    cross_step, cross_cell = rec["crossed"]
    assert len(np.unique(spike_step)) == len(spike_step)  # at most one spike per step
    chosen_at = {int(s): int(c) for s, c in zip(spike_step, spike_cell, strict=True)}
    inputs: dict[int, list] = {}
    for s, i in zip(*rec["inputs"], strict=True):
        inputs.setdefault(int(s), []).append(int(i))
    crossed_at, ref_theta = _reference(p, weights, theta, inputs, rec["presentations"],
                                       chosen_at, steps)

    network_crossed = {s: np.sort(cross_cell[cross_step == s]) for s in range(steps)}
    for s in range(steps):
        assert np.array_equal(network_crossed[s], crossed_at[s]), f"step {s}"
        if len(crossed_at[s]):
            assert chosen_at[s] in crossed_at[s], f"step {s}"
        else:
            assert s not in chosen_at, f"step {s}"
    several = sum(len(c) > 1 for c in crossed_at.values())
    assert several >= 30  # the rule acted: many steps had several crossing cells
    assert len(cross_cell) >= len(spike_cell) + several
    np.testing.assert_allclose(rec["theta"], ref_theta, rtol=1e-9, atol=1e-15)
    assert np.array_equal(out.theta, rec["theta"])
    # the counts the readouts use are of the spiking cells only
    assert out.counts.sum() <= len(spike_cell)


def test_the_spiking_cell_is_chosen_uniformly_among_those_that_crossed(one_spike_run):
    _, _, _, _, rec = one_spike_run
    spike_step, spike_cell = rec["spikes"]
    cross_step, cross_cell = rec["crossed"]
    ranks, sizes = [], []
    for s, c in zip(spike_step, spike_cell, strict=True):
        crossed = np.sort(cross_cell[cross_step == s])
        if len(crossed) > 1:
            ranks.append(int(np.searchsorted(crossed, c)))
            sizes.append(len(crossed))
    ranks, sizes = np.array(ranks), np.array(sizes)
    # uniform rank in 0..size-1: (rank + u) / size is uniform on [0, 1) for u ~ U[0, 1)
    u = (ranks + np.random.default_rng(0).random(len(ranks))) / sizes
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert (ranks > 0).any() and (ranks < sizes - 1).any()  # neither always first nor last


def test_one_spike_needs_the_compiled_network_and_says_so():
    p = LCSNNParams(n_filters=2, one_spike=True)
    with use_device("runtime"), pytest.raises(ValueError, match="one spike per step needs the "
                                              "cpp_standalone device"):
        build_network(p, 1, plastic=True)
    with pytest.raises(ValueError, match="one_spike must be true or false"):
        LCSNNParams(one_spike="yes")


def test_the_curve_trains_with_one_spike_and_its_table_says_so(tmp_path, monkeypatch):
    from test_lcsnn_curve import _run

    from brainlearn import rundir
    from brainlearn.models.lcsnn import __main__ as cli
    from brainlearn.models.lcsnn import training

    calls = []
    monkeypatch.setattr(training, "train", lambda run, **kw: calls.append(kw["params"]))
    monkeypatch.setattr(training, "evaluate", lambda run, **kw: None)
    assert cli.main(["curve", "--out", str(tmp_path / "c"), "--filters", "50", "--seeds", "0",
                     "--one-spike"]) == 0
    assert calls == [{"one_spike": True}]

    folder = tmp_path / "curve"
    for filters, seed in ((25, 0), (25, 1), (250, 0)):
        run = _run(folder, filters, seed, accuracy=0.9)
        config = rundir.read_config(run)
        rundir.write_config(run, {**config, "params": {"one_spike": (filters, seed) != (25, 1)}},
                            kind="lcsnn")
    table = cli.curve_table(str(folder), str(tmp_path / "curve.csv"), "runs/x").set_index("filters")
    assert table.loc[250, "one spike"] == "yes"
    assert table.loc[250, "command"].endswith("--filters 250 --seeds 0 --one-spike")
    assert table.loc[25, "one spike"] == "mixed" and "--one-spike" not in table.loc[25, "command"]
    assert table.loc[50, "one spike"] == ""


@pytest.mark.slow
def test_a_one_spike_run_trains_and_its_frozen_network_spikes_as_its_training_binary(tmp_path):
    import shutil
    import subprocess
    import sys

    run = tmp_path / "run"
    lcsnn = [sys.executable, "-m", "brainlearn.models.lcsnn"]
    done = subprocess.run([*lcsnn, "train", "--filters", "25", "--data", "embedded",
                           "--examples", "100", "--one-spike", "--out", str(run)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    arrays = {}
    for network in ("training", "frozen"):
        copy = tmp_path / network
        shutil.copytree(run, copy)
        done = subprocess.run([*lcsnn, "evaluate", str(copy), "--assign-examples", "200",
                               "--test-examples", "100", "--network", network],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        with np.load(copy / "evaluation.npz") as f:
            arrays[network] = {k: f[k] for k in f.files}
    assert arrays["training"]["test_spike_step"].size > 100
    for key, value in arrays["training"].items():
        assert np.array_equal(value, arrays["frozen"][key]), key
    # one spike per step: no image has two spikes in one step
    pairs = np.stack([arrays["frozen"]["test_spike_example"], arrays["frozen"]["test_spike_step"]])
    assert np.unique(pairs, axis=1).shape[1] == pairs.shape[1]


def test_the_estimator_the_models_command_and_sweeps_take_one_spike(tmp_path, capsys):
    from brainlearn.cli import main as brainlearn
    from brainlearn.models.lcsnn.estimator import LCSNNClassifier

    assert LCSNNClassifier(one_spike=True).get_params()["one_spike"] is True
    with pytest.raises(ValueError, match="needs the cpp_standalone device"):
        LCSNNClassifier(one_spike=True, device="runtime").fit(np.zeros((2, 28, 28)),
                                                              np.array([0, 1]))
    code = brainlearn(["models", "train", "--model", "lcsnn", "--data", "embedded", "--set",
                       "one_spike=maybe", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "one_spike must be true or false" in err
    assert not (tmp_path / "run").exists()


def test_the_authors_input_intervals_reach_the_network_from_every_entry(tmp_path, monkeypatch,
                                                                        capsys):
    """``input_intervals="poisson_steps"`` (BindsNET's encoder, see ``tests/test_encoding.py``
    for its statistics): the input group draws its intervals so, from the parameters, the
    ``train`` command and ``brainlearn models train --set``; a bad value is one line."""
    from brian2.groups.group import CodeRunner

    from brainlearn.cli import main as brainlearn
    from brainlearn.models.lcsnn import __main__ as cli
    from brainlearn.models.lcsnn import training

    def codes(net):  # the reset, and the presentation start (a run_regularly)
        return [net["input"].event_codes["spike"]] + [
            str(obj.abstract_code) for obj in net["input"].contained_objects
            if isinstance(obj, CodeRunner) and obj.name.endswith("run_regularly")]

    with use_device("runtime"):
        codes_steps = codes(build_network(LCSNNParams(n_filters=2,
                                                      input_intervals="poisson_steps"), 1,
                                          plastic=True))
        default_codes = codes(build_network(LCSNNParams(n_filters=2), 1, plastic=True))
    assert sum("poisson(" in code for code in codes_steps) == 2  # each spike, and the start
    assert not any("poisson(" in code for code in default_codes)

    calls = []
    monkeypatch.setattr(training, "train", lambda run, **kw: calls.append(kw["params"]) or {
        "train_examples": 1, "ms_per_example": 1.0})
    assert cli.main(["train", "--filters", "25", "--input-intervals", "poisson_steps",
                     "--one-spike", "--out", str(tmp_path / "a")]) == 0
    assert calls == [{"one_spike": True, "input_intervals": "poisson_steps"}]
    assert brainlearn(["models", "train", "--model", "lcsnn", "--data", "embedded", "--set",
                       "input_intervals=poisson_steps", "--out", str(tmp_path / "b")]) == 0
    assert calls[-1] == {"input_intervals": "poisson_steps"}
    assert brainlearn(["models", "train", "--model", "lcsnn", "--data", "embedded", "--set",
                       "one_spike=true", "input_intervals=poisson_steps",
                       "--out", str(tmp_path / "paper")]) == 0  # the paper's network (guide)
    assert calls[-1] == {"one_spike": True, "input_intervals": "poisson_steps"}
    monkeypatch.undo()
    capsys.readouterr()
    code = brainlearn(["models", "train", "--model", "lcsnn", "--data", "embedded", "--set",
                       "input_intervals=gamma", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "input_intervals must be one of" in err
    assert not (tmp_path / "c").exists()


def test_the_curve_trains_with_the_authors_input_and_its_table_says_so(tmp_path, monkeypatch):
    from test_lcsnn_curve import _run

    from brainlearn import rundir
    from brainlearn.models.lcsnn import __main__ as cli
    from brainlearn.models.lcsnn import training

    calls = []
    monkeypatch.setattr(training, "train", lambda run, **kw: calls.append(kw["params"]))
    monkeypatch.setattr(training, "evaluate", lambda run, **kw: None)
    assert cli.main(["curve", "--out", str(tmp_path / "c"), "--filters", "50", "--seeds", "0",
                     "--one-spike", "--input-intervals", "poisson_steps"]) == 0
    assert calls == [{"one_spike": True, "input_intervals": "poisson_steps"}]

    folder = tmp_path / "curve"
    for filters, seed, intervals in ((25, 0, "poisson_steps"), (25, 1, None),
                                     (250, 0, "poisson_steps")):
        run = _run(folder, filters, seed, accuracy=0.9)
        params = {"one_spike": True, **({"input_intervals": intervals} if intervals else {})}
        rundir.write_config(run, {**rundir.read_config(run), "params": params}, kind="lcsnn")
    table = cli.curve_table(str(folder), str(tmp_path / "curve.csv"), "runs/x").set_index("filters")
    assert table.loc[250, "input intervals"] == "poisson_steps"
    assert table.loc[250, "command"].endswith(
        "--filters 250 --seeds 0 --one-spike --input-intervals poisson_steps")
    assert table.loc[25, "input intervals"] == "mixed"
    assert "--input-intervals" not in table.loc[25, "command"]
    assert table.loc[50, "input intervals"] == ""


@pytest.mark.slow
def test_a_run_with_the_authors_input_is_reproducible_from_its_seed(tmp_path):
    """Brian2's ``poisson`` draws from the seeded generator: the same seed trains the same
    weights and thresholds, another seed other ones (compiled, 100 embedded images)."""
    from brainlearn.models.lcsnn.training import train

    params = {"input_intervals": "poisson_steps"}
    stored = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train(tmp_path / name, data="embedded", seed=seed, n_filters=25, examples=100,
              params=params, progress=False)
        with np.load(tmp_path / name / "weights.npz") as f:
            stored[name] = {k: f[k] for k in f.files}
    for key in ("weights", "theta"):
        assert np.array_equal(stored["a"][key], stored["b"][key]), key
        assert not np.array_equal(stored["a"][key], stored["c"][key]), key
