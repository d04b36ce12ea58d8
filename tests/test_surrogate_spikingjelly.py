"""The SpikingJelly tutorials by name: LIFNode dynamics, the BPTT scan, Poisson input, presets,
training on the embedded subset and the same network in Brian2 with the same input spikes."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="surrogate training needs the torch extra")


from brainlearn.cli import main  # noqa: E402
from brainlearn.encoding import bernoulli_steps  # noqa: E402
from brainlearn.models.surrogate import (  # noqa: E402
    PRESETS,
    SpikingMLP,
    Surrogate,
    evaluate,
    forward,
    lif_scan,
    resolve_settings,
    simulate,
    train,
)
from brainlearn.neurons import SpikingJellyLIF  # noqa: E402

# numpy code generation comes from conftest's brian2_numpy_target (every test)
pytestmark = pytest.mark.usefixtures("brian2_scope")


def spikingjelly_loop(drive, *, tau, reset, detach_reset, surrogate, threshold=1.0):
    """SpikingJelly's ``LIFNode`` (decay_input=True, v_reset=0) step by step, as its
    ``neuronal_charge``, ``neuronal_fire`` and ``neuronal_reset`` write it, through autograd.
    ``drive`` is the input X (not yet divided by tau)."""
    v = torch.zeros_like(drive[0])
    spikes, membranes = [], []
    for x in drive:
        h = v + (x - v) / tau
        # Heaviside(h - threshold) = 1 at 0, with the surrogate derivative backwards
        s = _heaviside(h - threshold, surrogate)
        s_reset = s.detach() if detach_reset else s
        v = (1 - s_reset) * h if reset == "zero" else h - threshold * s_reset
        spikes.append(s)
        membranes.append(h)
    return torch.stack(spikes), torch.stack(membranes)


class _Heaviside(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.grad(x), None


def _heaviside(x, surrogate):
    return _Heaviside.apply(x, surrogate)


# --------------------------------------------------------------------------------------------
# the neuron and the scan
# --------------------------------------------------------------------------------------------
def test_lif_node_with_tau_2_fires_every_other_step_on_a_constant_input():
    """X = 1.5, tau = 2: H1 = 0.75 (no spike, V = 0.75), H2 = 0.75 + (1.5 - 0.75) / 2 = 1.125
    (spike, hard reset to 0), and so on: spikes at steps 2, 4, 6, ..."""
    cell = SpikingJellyLIF(tau=2.0)
    assert cell.beta == 0.5 and cell.input_gain == 0.5
    drive = torch.full((8, 1, 1), 1.5 * cell.input_gain, dtype=torch.float64)
    spikes, membrane = lif_scan(drive, beta=cell.beta, threshold=1.0, reset="zero")
    assert spikes.flatten().tolist() == [0, 1, 0, 1, 0, 1, 0, 1]
    assert membrane.flatten()[:2].tolist() == [0.75, 1.125]


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("name", ["atan", "sigmoid"])
def test_scan_gradient_equals_autograd_through_spikingjelly_loop(reset, detach_reset, name):
    """The written-out backward pass of :func:`lif_scan` against autograd through the plain
    loop of SpikingJelly's LIFNode (float64): same spikes, membranes and input gradients."""
    surrogate = Surrogate(name)
    tau = 2.0
    gen = torch.Generator().manual_seed(1)
    x = (2.5 * torch.rand(40, 3, 6, generator=gen, dtype=torch.float64)).requires_grad_()
    w_s = torch.randn(40, 3, 6, generator=gen, dtype=torch.float64)
    w_h = torch.randn(40, 3, 6, generator=gen, dtype=torch.float64)
    spikes, membrane = lif_scan(x / tau, beta=1 - 1 / tau, threshold=1.0, reset=reset,
                                detach_reset=detach_reset, surrogate=surrogate)
    (spikes * w_s + membrane * w_h).sum().backward()
    grad = x.grad.clone()
    x.grad = None
    ref_s, ref_h = spikingjelly_loop(x, tau=tau, reset=reset, detach_reset=detach_reset,
                                     surrogate=surrogate)
    (ref_s * w_s + ref_h * w_h).sum().backward()
    assert 0.2 < float(ref_s.detach().mean()) < 0.8  # the test exercises threshold and reset
    assert torch.equal(spikes, ref_s.detach())
    torch.testing.assert_close(membrane, ref_h.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, x.grad, rtol=1e-9, atol=1e-12)


def test_sigmoid_surrogate_is_spikingjelly_default():
    # SpikingJelly surrogate.Sigmoid(alpha=4): g'(x) = alpha sigmoid(alpha x)(1 - sigmoid(alpha x))
    x = np.array([-1.0, -0.1, 0.0, 0.3])
    sig = 1 / (1 + np.exp(-4 * x))
    np.testing.assert_allclose(Surrogate("sigmoid").grad(x), 4 * sig * (1 - sig))
    assert Surrogate("sigmoid").grad(np.array([0.0]))[0] == pytest.approx(1.0)


def test_bad_neuron_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="tau must be"):
        SpikingJellyLIF(tau=1.0)
    with pytest.raises(ValueError, match="reset must be one of"):
        SpikingJellyLIF(reset_mode="hard")
    with pytest.raises(ValueError, match="unknown preset 'lenet'"):
        resolve_settings("lenet")
    with pytest.raises(ValueError, match="takes tau"):
        resolve_settings("spikingjelly-single", beta=0.9)
    with pytest.raises(ValueError, match="tau belong to the spikingjelly neuron"):
        resolve_settings("snntorch-tutorial5", tau=5.0)
    x, y = np.random.default_rng(0).random((8, 4)), np.arange(8) % 2
    with pytest.raises(ValueError, match="encoder must be one of"):
        train(x, y, encoder="rate")
    with pytest.raises(ValueError, match="snntorch neuron resets by subtraction"):
        train(x, y, reset="zero")


# --------------------------------------------------------------------------------------------
# Poisson input
# --------------------------------------------------------------------------------------------
def test_bernoulli_steps_fire_at_the_pixel_value_and_do_not_depend_on_the_batch():
    x = np.array([[0.0, 0.25, 1.0, 0.6], [0.9, 0.0, 0.0, 0.1]], dtype=np.float32)
    spikes, pixels = bernoulli_steps(x, 4000, seed=5)
    dense = np.zeros((2, 4000, 4))
    for e in range(2):
        for j, pixel in enumerate(pixels[e]):  # padding columns (pixel 0) never spike
            dense[e, :, pixel] += spikes[e, :, j]
    np.testing.assert_allclose(dense.mean(axis=1), x, atol=0.03)
    assert dense[0, :, 2].all() and not dense[0, :, 0].any()
    # example 1 alone, with its index, gets the same trains
    alone, alone_pixels = bernoulli_steps(x[1:], 4000, seed=5, indices=[1])
    k = alone.shape[2]
    np.testing.assert_array_equal(alone[0], spikes[1][:, :k])
    np.testing.assert_array_equal(alone_pixels[0], pixels[1][:k])
    assert not np.array_equal(bernoulli_steps(x, 50, seed=6)[0], spikes[:, :50])


# --------------------------------------------------------------------------------------------
# presets
# --------------------------------------------------------------------------------------------
def test_presets_set_the_tutorials_values():
    single = resolve_settings("spikingjelly-single")
    assert single["hidden"] == () and not single["bias"]  # Linear(784, 10, bias=False)
    assert (single["neuron"], single["tau"], single["decay_input"], single["reset"],
            single["detach_reset"]) == ("spikingjelly", 2.0, True, "zero", False)
    assert (single["surrogate"], single["surrogate_scale"]) == ("atan", 2.0)
    assert (single["encoder"], single["loss"], single["steps"]) == ("poisson", "rate_mse", 100)
    assert (single["lr"], single["batch_size"], single["epochs"]) == (1e-3, 64, 100)
    two = resolve_settings("spikingjelly-two-layer")
    assert two["hidden"] == (196,) and two["tau"] == 100.0 and not two["bias"]
    assert (two["surrogate"], two["surrogate_scale"]) == ("sigmoid", 4.0)  # LIFNode's default
    # explicit settings override the preset
    assert resolve_settings("spikingjelly-single", epochs=3, tau=4.0)["epochs"] == 3
    # snnTorch tutorial 5 is what train() did before presets existed
    tutorial = resolve_settings("snntorch-tutorial5")
    defaults = {k: p.default for k, p in inspect.signature(train).parameters.items()}
    for key in ("hidden", "beta", "threshold", "steps", "surrogate", "loss", "lr", "batch_size",
                "epochs", "encoder", "bias"):
        assert tutorial[key] == defaults[key], key
    assert set(PRESETS) == {"snntorch-tutorial5", "spikingjelly-single",
                            "spikingjelly-two-layer"}


# --------------------------------------------------------------------------------------------
# training and Brian2
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def single_net():
    from brainlearn.data import load_mnist

    settings = resolve_settings("spikingjelly-single", epochs=3)
    kwargs = {k: v for k, v in settings.items() if k not in ("preset", "beta", "surrogate_scale")}
    x, y = load_mnist("train", source="embedded")
    x_test, y_test = load_mnist("test", source="embedded")
    net = train(x, y, **kwargs, test=(x_test, y_test), seed=0, threads=2)
    return net, x_test, y_test


def test_spikingjelly_single_learns_the_embedded_subset(single_net):
    """784-10 LIF, Poisson input, 3 epochs of 1000 images: 0.83-0.84 on the 500 test images
    over seeds 0-3; chance is 0.1."""
    net, _, _ = single_net
    history = net.history
    assert list(history["epoch"]) == [1, 2, 3]
    assert history["test_accuracy"].iloc[-1] >= 0.78
    assert history["test_accuracy"].iloc[-1] > history["test_accuracy"].iloc[0]
    assert net.n_parameters == 784 * 10  # no bias
    assert all(not b.any() for b in net.biases)


def test_brian2_agrees_with_the_trainer_on_the_same_poisson_spikes(single_net):
    net, x_test, y_test = single_net
    table = evaluate(net, x_test[:60], y_test[:60], lanes=60, seed=7).set_index("implementation")
    assert table.loc["brian2", "agreement"] >= 0.98
    assert table.loc["brian2", "accuracy"] >= 0.7
    # in float64 the two are the same computation
    ref = forward(net, x_test[:30], dtype="float64", seed=7)
    act = simulate(net, x_test[:30], seed=7)
    np.testing.assert_array_equal(act.counts, ref.counts)
    np.testing.assert_allclose(act.membrane, ref.membrane, rtol=1e-9, atol=1e-9)
    # other input spikes give other counts: the seed reaches both sides
    assert not np.array_equal(forward(net, x_test[:30], dtype="float64", seed=8).counts,
                              ref.counts)


@pytest.mark.parametrize("kind, tau, reset", [("spikingjelly", 100.0, "zero"),
                                               ("spikingjelly", 3.0, "subtract"),
                                               ("snntorch", None, None)])
def test_two_layer_network_with_poisson_input_runs_identically_in_brian2(kind, tau, reset):
    """784-16-10 with random weights, Poisson input, zero-delay propagation between layers;
    tau 100 (the two-layer tutorial) divides the input by 100; snnTorch's neuron too."""
    rng = np.random.default_rng(2)
    scale = 40.0 if tau == 100.0 else 2.0
    weights = [rng.normal(0.02, 0.1, (784, 16)) * scale, rng.normal(0.3, 0.5, (16, 10)) * scale]
    biases = [rng.normal(0, 0.1, 16), rng.normal(0, 0.1, 10)]
    if kind == "snntorch":
        net = SpikingMLP(weights, biases, beta=0.9, steps=40, encoder="poisson")
    else:
        net = SpikingMLP(weights, [np.zeros(16), np.zeros(10)], steps=40, neuron_kind=kind,
                         tau=tau, reset=reset, encoder="poisson", bias=False)
    from brainlearn.data import load_mnist

    x, _ = load_mnist("test", n=12, source="embedded")
    ref = forward(net, x, dtype="float64", seed=1)
    act = simulate(net, x, lanes=5, seed=1, max_inputs=5 * 40 * 16)  # 3 chunks of 5, 5, 2
    assert ref.counts.sum() > 20 and ref.spikes.sum() > ref.counts.sum()
    np.testing.assert_array_equal(act.counts, ref.counts)
    np.testing.assert_array_equal(act.spikes, ref.spikes)
    np.testing.assert_allclose(act.membrane, ref.membrane, atol=1e-9)


def test_test_evaluation_during_training_leaves_the_snntorch_path_unchanged():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 20)).astype(np.float32), rng.integers(0, 2, 64)
    a = train(x, y, hidden=(8,), steps=4, epochs=2, batch_size=16, seed=3)
    b = train(x, y, hidden=(8,), steps=4, epochs=2, batch_size=16, seed=3, test=(x, y))
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert "test_accuracy" in b.history and "test_accuracy" not in a.history


def test_cli_preset_trains_resumes_and_evaluates(tmp_path, capsys):
    run = tmp_path / "sj"
    common = ["surrogate", "train", "--preset", "spikingjelly-single", "--data", "embedded",
              "--train-examples", "256", "--test-examples", "100", "--steps", "20",
              "--threads", "1", "--out", str(run)]
    assert main([*common, "--epochs", "1"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["preset"] == "spikingjelly-single" and config["steps"] == 20  # flag wins
    assert config["tau"] == 2.0 and config["encoder"] == "poisson" and config["bias"] is False
    assert (run / "accuracy.png").stat().st_size > 0 and (run / "checkpoint.pt").is_file()
    # the same command with more epochs continues from the checkpoint
    assert main([*common, "--epochs", "2"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    lines = (run / "train_metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,") and "test_accuracy" in lines[0] and len(lines) == 3
    assert metrics["epochs"] == 2 and json.loads((run / "config.json").read_text())["resumed"]
    assert main(["surrogate", "evaluate", str(run), "--data", "embedded", "--test-examples",
                 "20", "--lanes", "20"]) == 0
    assert "agreement" in capsys.readouterr().out


def test_cli_bad_preset_is_a_one_line_error(tmp_path, capsys):
    assert main(["surrogate", "train", "--preset", "lenet", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'lenet'" in err and "spikingjelly-single" in err
    assert not (tmp_path / "x").exists()
