"""Surrogate-gradient training (PyTorch) and the same LIF network in Brian2."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="surrogate training needs the torch extra")

from brian2 import Network, StateMonitor  # noqa: E402

from brainlearn.cli import main  # noqa: E402
from brainlearn.models.surrogate import (  # noqa: E402
    SURROGATES,
    SpikingMLP,
    Surrogate,
    decode,
    evaluate,
    forward,
    require_torch,
    run_steps,
    simulate,
    train,
)
from brainlearn.neurons import DiscreteLIF  # noqa: E402

# numpy code generation comes from conftest's brian2_numpy_target (every test)
pytestmark = pytest.mark.usefixtures("brian2_scope")


# --------------------------------------------------------------------------------------------
# surrogate gradients
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SURROGATES)
def test_surrogate_gradient_of_one_lif_step_matches_finite_difference(name):
    """d S / d w of one LIF step (autograd) equals the finite-difference slope of the smoothed
    step S~(beta u0 + w x - thr s0 - thr), the previous spike s0 entering as a constant."""
    surrogate = Surrogate(name)
    beta, thr, x, s0 = 0.95, 1.0, 0.7, 1.0
    u0 = torch.linspace(-1.0, 3.0, 41, dtype=torch.float64)
    w = torch.full_like(u0, 0.8, requires_grad=True)
    spike = surrogate.spike(beta * u0 + w * x - thr * s0 - thr)
    spike.sum().backward()

    def smoothed(w_value):
        return surrogate.smooth((beta * u0 + w_value * x - thr * s0 - thr).numpy())

    h = 1e-6
    fd = (smoothed(0.8 + h) - smoothed(0.8 - h)) / (2 * h)
    arg = (beta * u0 + 0.8 * x - thr * s0 - thr).numpy()
    away_from_kinks = np.abs(np.abs(arg) - surrogate.scale / 2) > 1e-3  # rectangle edges
    np.testing.assert_allclose(w.grad.numpy()[away_from_kinks], fd[away_from_kinks],
                               rtol=1e-6, atol=1e-9)
    # the forward pass is the Heaviside step
    assert torch.equal(spike.detach(), (torch.from_numpy(arg) > 0).double())


def test_atan_surrogate_is_snntorch_default():
    # snnTorch surrogate.atan(alpha=2): grad = alpha/2 / (1 + (pi/2 alpha U)^2) = 1/(1 + (pi U)^2)
    u = np.array([-1.0, -0.25, 0.0, 0.1, 2.0])
    np.testing.assert_allclose(Surrogate("atan").grad(u), 1 / (1 + (math.pi * u) ** 2))


def test_reset_by_subtraction_is_detached_from_the_graph():
    """Two steps of one neuron driven by w x: U1 = beta U0 + w x - thr S0 with S0 = H(U0 - thr).
    With the reset detached, dU1/dw = (beta + 1) x even when U0 crosses the threshold."""
    layer = torch.nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(1.5)
    x = torch.tensor([[1.0]], dtype=torch.float64)
    out_mem, out_spk, _ = run_steps(torch, torch.nn.ModuleList([layer]), x, beta=0.9, threshold=1.0,
                               steps=2, surrogate=Surrogate("atan"))
    assert out_spk[0].item() == 1.0  # U0 = 1.5 > 1: the neuron spikes and is reset
    assert out_mem[1].item() == pytest.approx(0.9 * 1.5 + 1.5 - 1.0)
    out_mem[1].sum().backward()
    assert layer.weight.grad.item() == pytest.approx((0.9 + 1) * 1.0)


def snntorch_loop(drive, *, beta, threshold, surrogate):
    """snnTorch's ``Leaky`` step by step through autograd (the trainer's loop before the scan):
    U[t] = beta U[t-1] + I[t] - thr S[t-1] (S detached), S[t] = H(U[t] - thr)."""
    mem = torch.zeros_like(drive[0])
    spk = torch.zeros_like(mem)
    mems, spks = [], []
    for current in drive:
        mem = beta * mem + current - threshold * spk.detach()
        spk = surrogate.spike(mem - threshold)
        mems.append(mem)
        spks.append(spk)
    return torch.stack(spks), torch.stack(mems)


@pytest.mark.parametrize("name", ["atan", "fast_sigmoid"])
def test_snntorch_scan_equals_autograd_through_the_plain_loop(name):
    """The one LIF scan with ``neuron="snntorch"`` (the surrogate network's and the hybrid's)
    against autograd through snnTorch's loop (float64): same spikes, membranes, gradients."""
    from brainlearn.models.surrogate import lif_scan

    surrogate = Surrogate(name)
    gen = torch.Generator().manual_seed(2)
    x = (0.9 * torch.rand(30, 4, 5, generator=gen, dtype=torch.float64)).requires_grad_()
    w_s = torch.randn(30, 4, 5, generator=gen, dtype=torch.float64)
    w_h = torch.randn(30, 4, 5, generator=gen, dtype=torch.float64)
    spikes, membrane = lif_scan(x, beta=0.9, threshold=1.0, surrogate=surrogate,
                                neuron="snntorch")
    (spikes * w_s + membrane * w_h).sum().backward()
    grad = x.grad.clone()
    x.grad = None
    ref_s, ref_h = snntorch_loop(x, beta=0.9, threshold=1.0, surrogate=surrogate)
    (ref_s * w_s + ref_h * w_h).sum().backward()
    assert 0.1 < float(ref_s.detach().mean()) < 0.9  # threshold and reset are exercised
    assert torch.equal(spikes, ref_s.detach())
    torch.testing.assert_close(membrane, ref_h.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, x.grad, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def toy_task(n: int, seed: int):
    """Two classes of 20-pixel inputs: the bright half is the label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.random((n, 20)).astype(np.float32) * 0.3
    x[labels == 0, :10] += 0.6
    x[labels == 1, 10:] += 0.6
    return x, labels


@pytest.mark.parametrize("loss", ["membrane_ce", "count_ce", "rate_mse"])
def test_tiny_network_learns_a_toy_task(loss):
    x, y = toy_task(256, seed=0)
    x_test, y_test = toy_task(200, seed=1)
    net = train(x, y, hidden=(16,), steps=8, lr=1e-2, batch_size=32, epochs=8, loss=loss, seed=0)
    accuracy = np.mean(forward(net, x_test).predict() == y_test)
    assert accuracy >= 0.95
    assert list(net.history["epoch"]) == list(range(1, 9))


@pytest.mark.parametrize("name", ["fast_sigmoid", "rectangular"])
def test_other_surrogates_also_learn(name):
    x, y = toy_task(256, seed=0)
    x_test, y_test = toy_task(200, seed=1)
    net = train(x, y, hidden=(16,), steps=8, lr=1e-2, batch_size=32, epochs=8, surrogate=name)
    assert np.mean(forward(net, x_test).predict() == y_test) >= 0.95


def test_same_seed_same_network():
    x, y = toy_task(64, seed=0)
    a = train(x, y, hidden=(8,), steps=4, epochs=1, batch_size=16, seed=3)
    b = train(x, y, hidden=(8,), steps=4, epochs=1, batch_size=16, seed=3)
    for wa, wb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_bad_arguments_raise_clear_errors():
    x, y = toy_task(8, seed=0)
    with pytest.raises(ValueError, match="loss must be one of"):
        train(x, y, loss="hinge")
    with pytest.raises(ValueError, match="surrogate must be one of"):
        Surrogate("tanh")
    with pytest.raises(ValueError, match="beta must be in"):
        train(x, y, beta=1.0)


def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(RuntimeError, match=r"brainlearn\[torch\]"):
        require_torch()


def test_ties_in_spike_count_go_to_the_larger_membrane():
    counts = np.array([[3, 5, 5], [0, 0, 0]])
    membrane = np.array([[9.0, 1.0, 2.0], [-1.0, 0.5, -3.0]])
    np.testing.assert_array_equal(decode(counts, membrane), [2, 1])
    np.testing.assert_array_equal(decode(counts, membrane, "membrane"), [0, 1])


# --------------------------------------------------------------------------------------------
# Brian2
# --------------------------------------------------------------------------------------------
def test_discrete_lif_in_brian2_follows_the_recurrence():
    """Brian2's DiscreteLIF (exact leak, threshold, reset) against the numpy recurrence
    U[t] = beta U[t-1] + I - thr S[t-1], S[t] = U[t] > thr."""
    model = DiscreteLIF(beta=0.8, v_thresh=1.0)
    inputs = np.array([0.1, 0.35, 0.6, 1.3])
    group = model.group(len(inputs), extra_equations="drive : 1\n")
    group.drive = inputs
    group.run_regularly("v += drive", when="before_thresholds")
    mon = StateMonitor(group, "v", record=True, when="before_resets")
    Network(group, mon).run(30 * model.step)
    u, s = np.zeros(len(inputs)), np.zeros(len(inputs))
    expected = []
    for _ in range(30):
        u = 0.8 * u + inputs - 1.0 * s
        s = (u > 1.0).astype(float)
        expected.append(u.copy())
    np.testing.assert_allclose(mon.v.T, expected, atol=1e-12)
    assert np.sum(np.array(expected) > 1.0) > 10  # the test exercises the reset


@pytest.fixture(scope="module")
def mnist_net():
    from brainlearn.data import load_mnist

    x, y = load_mnist("train", source="embedded")
    net = train(x, y, hidden=(64,), steps=10, lr=2e-3, batch_size=64, epochs=2, seed=0)
    x_test, y_test = load_mnist("test", n=120, source="embedded")
    return net, x_test, y_test


def test_brian2_network_agrees_with_the_trainer(mnist_net):
    net, x_test, y_test = mnist_net
    table = evaluate(net, x_test, y_test, lanes=40).set_index("implementation")
    assert table.loc["brian2", "agreement"] >= 0.99
    assert table.loc["trainer", "accuracy"] >= 0.6  # well above chance on 1000 training images
    assert table.loc["brian2", "spikes_per_inference"] > 0
    # in float64 the two are the same computation: identical counts, equal membranes
    ref = forward(net, x_test, dtype="float64")
    act = simulate(net, x_test, lanes=40)
    np.testing.assert_array_equal(act.counts, ref.counts)
    np.testing.assert_array_equal(act.spikes, ref.spikes)
    np.testing.assert_allclose(act.membrane, ref.membrane, rtol=1e-9, atol=1e-9)


def test_two_hidden_layers_run_identically_in_brian2():
    """Zero-delay propagation through every layer within a step, as in the trainer."""
    rng = np.random.default_rng(1)
    sizes = (5, 8, 6, 3)
    weights = [rng.normal(0.2, 0.7, (a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [rng.normal(0.0, 0.1, b) for b in sizes[1:]]
    net = SpikingMLP(weights, biases, beta=0.9, steps=12)
    x = rng.random((7, 5))
    ref = forward(net, x, dtype="float64")
    act = simulate(net, x, lanes=3)
    assert ref.counts.sum() > 20  # the output layer is active
    np.testing.assert_array_equal(act.counts, ref.counts)
    np.testing.assert_array_equal(act.spikes, ref.spikes)
    np.testing.assert_allclose(act.membrane, ref.membrane, atol=1e-9)


def test_save_load_round_trip(mnist_net, tmp_path):
    net = mnist_net[0]
    loaded = SpikingMLP.load(net.save(tmp_path / "snn.npz"))
    assert loaded.sizes == net.sizes and loaded.steps == net.steps
    assert loaded.surrogate == net.surrogate and loaded.config == net.config
    for a, b in zip(loaded.weights + loaded.biases, net.weights + net.biases, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match="surrogate train"):
        SpikingMLP.load(tmp_path / "missing.npz")


def test_cli_train_evaluate_and_compare(tmp_path):
    run = tmp_path / "sg"
    assert main(["surrogate", "train", "--hidden", "16", "--steps", "5", "--train-examples",
                 "300", "--source", "embedded", "--lr", "2e-3", "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert config["kind"] == "surrogate" and config["epochs"] == 1
    assert metrics["parameters"] == 784 * 16 + 16 + 16 * 10 + 10
    assert metrics["seconds_per_epoch"] >= 0
    assert main(["surrogate", "evaluate", str(run), "--source", "embedded",
                 "--test-examples", "60", "--lanes", "20"]) == 0
    out = tmp_path / "cmp"
    assert main(["compare", "--surrogate-run", str(run), "--out", str(out)]) == 0
    table = (out / "comparison.csv").read_text()
    assert "trainer forward pass" in table and "same network in Brian2" in table
