"""The converted CNN: unrolled convolutions equal PyTorch's, the IF network follows the ANN."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the CNN is trained with the torch extra")

import scipy.sparse as sp  # noqa: E402

from brainlearn.models.conversion import (  # noqa: E402
    CNN,
    conv_synapses,
    convert,
    evaluate,
    pool_synapses,
    rate_model,
    shift_images,
    simulate,
    simulate_torch,
    train_cnn,
)


@pytest.fixture(autouse=True)
def _numpy_target():
    from brian2 import prefs

    torch.set_num_threads(1)
    old = prefs.codegen.target
    prefs.codegen.target = "numpy"
    yield
    prefs.codegen.target = old


def _matrix(i, j, w, n_in, n_out):
    return sp.coo_matrix((w, (i, j)), shape=(n_in, n_out)).toarray()


def test_unrolled_convolution_equals_torch_conv2d_with_zero_padding():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    x = rng.random((4, 2, 7, 7)).astype(np.float32)
    i, j, w = conv_synapses(kernel, 7)
    # 9 taps inside, 6 on an edge, 4 at a corner: 5*5*9 + 4*5*6 + 4*4 = 361 per channel pair
    assert len(i) == 3 * 2 * 361
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(kernel), padding=1)
    np.testing.assert_allclose(x.reshape(4, -1) @ _matrix(i, j, w, 2 * 49, 3 * 49),
                               ref.flatten(1).numpy(), atol=1e-5)


def test_pool_synapses_equal_torch_avg_pool2d():
    x = np.random.default_rng(1).random((3, 4, 6, 6)).astype(np.float32)
    i, j, w = pool_synapses(4, 6)
    ref = torch.nn.functional.avg_pool2d(torch.from_numpy(x), 2).flatten(1).numpy()
    np.testing.assert_allclose(x.reshape(3, -1) @ _matrix(i, j, w, 4 * 36, 4 * 9), ref,
                               atol=1e-6)


@pytest.fixture(scope="module")
def small_cnn():
    from brainlearn.data import load_mnist

    x, y = load_mnist("train", source="embedded")
    xt, yt = load_mnist("test", source="embedded")
    torch.set_num_threads(1)
    cnn = train_cnn(x, y, channels=(4, 8), hidden=32, epochs=8, lr=3e-3, seed=0)
    return cnn, x, xt[:40], yt[:40]


def test_normalised_unrolled_network_computes_activations_over_factors(small_cnn):
    """The unrolled, normalised layers (ReLU, no spikes) give each ANN layer's activation
    divided by its normalisation factor (the pools: by their convolution's)."""
    cnn, x, xt, _ = small_cnn
    conv = convert(cnn, x, "99.9")
    acts = cnn.activations(xt)
    h = conv.first_current(xt)
    for k, layer in enumerate(conv.layers):
        if k:
            pre = conv.layers[k - 1].size
            h = h @ _matrix(layer.i, layer.j, layer.w, pre, layer.size) + layer.bias
        h = np.maximum(h, 0) if k < len(conv.layers) - 1 else h
        np.testing.assert_allclose(h, acts[k] / conv.factors[k], rtol=1e-3, atol=1e-4)
    assert conv.factors[1] == conv.factors[0] and conv.factors[3] == conv.factors[2]


def test_converted_cnn_in_brian2_approaches_the_ann(small_cnn):
    cnn, x, xt, yt = small_cnn
    table = evaluate(cnn, xt, yt, x, steps=(8, 64))
    ann = table["ann_accuracy"].iloc[0]
    assert ann > 0.8
    late = table.set_index("steps").loc[64, "accuracy"]
    assert late >= ann - 0.05
    assert table["spikes_per_example"].iloc[0] > 0


def test_cli_trains_converts_and_evaluates_a_cnn_run(tmp_path, capsys):
    import pandas as pd

    from brainlearn import rundir
    from brainlearn.cli import main

    out = tmp_path / "cnn"
    code = main(["convert", "cnn", "--data", "embedded", "--channels", "2,4", "--hidden", "8",
                 "--epochs", "2", "--schedule", "onecycle", "--shift", "1", "--validation", "100",
                 "--test-examples", "10", "--steps", "4,8", "--fast-steps", "4,8,16",
                 "--device", "runtime", "--out", str(out)])
    assert code == 0
    results = pd.read_csv(out / "results.csv")
    brian = results[results["simulator"] == "brian2"]
    assert list(brian["steps"]) == [4, 8] and (brian["n_examples"] == 10).all()
    fast = results[results["simulator"] == "torch"]
    assert set(fast["split"]) == {"test", "validation"}
    assert set(fast["v_init"]) == {0.0, 0.5} and set(fast["readout"]) == {"count", "potential"}
    assert (fast[fast["split"] == "validation"]["n_examples"] == 100).all()
    config = rundir.read_config(out)
    assert config["kind"] == "conversion_cnn" and config["schedule"] == "onecycle"
    assert config["train_examples"] + config["validation_examples"] == 1000
    assert rundir.read_metrics(out)["parameters"] == 2 * 9 + 2 + 4 * 18 + 4 + 196 * 8 + 8 + 90
    history = pd.read_csv(out / "train_metrics.csv")
    assert list(history["epoch"]) == [1, 2] and history["val_accuracy"].between(0, 1).all()
    assert (out / "accuracy_vs_steps.png").stat().st_size > 0
    assert "-> " in capsys.readouterr().out
    # the trained weights convert again without training, carrying the training record
    again = tmp_path / "again"
    assert main(["convert", "cnn", "--data", "embedded", "--weights", str(out / "cnn.npz"),
                 "--test-examples", "10", "--fast-steps", "8", "--fast-v-init", "0.5",
                 "--brian2-examples", "0", "--out", str(again)]) == 0
    assert rundir.read_config(again)["trained"]["schedule"] == "onecycle"
    redo = pd.read_csv(again / "results.csv")
    assert (redo["simulator"] == "torch").all()
    assert redo["ann_accuracy"].iloc[0] == results["ann_accuracy"].iloc[0]


@pytest.mark.parametrize("bad", [["--v-init", "1.5"], ["--weights", "missing.npz"],
                                 ["--norm", "pct"]])
def test_cli_rejects_bad_cnn_options_in_one_line(bad, tmp_path, capsys):
    from brainlearn.cli import main

    with pytest.raises(SystemExit) as info:
        main(["convert", "cnn", "--data", "embedded", *bad, "--out", str(tmp_path / "x")])
    message = str(info.value.code)
    assert bad[1] in message and "\n" not in message.strip()
    assert not (tmp_path / "x").exists()


def test_shifted_images_are_translations_with_zero_fill():
    image = torch.arange(1, 26, dtype=torch.float32).reshape(1, 1, 5, 5).repeat(64, 1, 1, 1)
    moved = shift_images(image, 2, np.random.default_rng(0))
    for k in range(len(moved)):
        nz = torch.nonzero(moved[k, 0])
        dy = int(moved[k, 0][tuple(nz[0])] - 1) // 5 - int(nz[0][0])
        dx = int(moved[k, 0][tuple(nz[0])] - 1) % 5 - int(nz[0][1])
        # every surviving pixel moved by the same (dy, dx), within the allowed range
        ref = torch.roll(image[k, 0], shifts=(-dy, -dx), dims=(0, 1))
        kept = moved[k, 0] != 0
        assert abs(dy) <= 2 and abs(dx) <= 2
        assert torch.equal(moved[k, 0][kept], ref[kept])
        assert int(kept.sum()) == (5 - abs(dy)) * (5 - abs(dx))
    assert len({tuple(torch.nonzero(m[0])[0].tolist()) for m in moved}) > 5


@pytest.mark.parametrize("v_init", [0.0, 0.5])
def test_pytorch_if_simulation_reproduces_brian2_spikes(small_cnn, v_init):
    """The clock-driven PyTorch replica (float64) and the Brian2 network emit the same output
    spikes and read the same output membrane, step for step.

    The two sum the same inputs in different orders, so a membrane that lands on the threshold
    itself (within float64 rounding, ~1e-16) may fire in one and not yet in the other: such a
    tie moves one spike by one step. Seen once in 360 counts with numpy 2.3 / torch 2.13 (image
    1, class 4, T=16: the potentials equal to 1e-15); the counts must agree everywhere else,
    and where they do not, by one spike, with the same membrane input."""
    cnn, x, xt, _ = small_cnn
    conv = convert(cnn, x)
    brian = simulate(conv, xt[:12], steps=(4, 8, 16), v_init=v_init)[0]
    fast = simulate_torch(conv, xt[:12], steps=(4, 8, 16), v_init=v_init)
    np.testing.assert_allclose(brian.out_potential, fast.out_potential, atol=1e-9)
    differ = brian.out_counts != fast.out_counts
    assert differ.sum() <= 1, f"{differ.sum()} counts differ: more than a threshold tie"
    np.testing.assert_array_equal(np.abs(brian.out_counts - fast.out_counts)[differ], 1)
    assert fast.out_counts[-1].sum() > 0


def test_half_threshold_start_brings_the_if_network_closer_to_its_rate_limit(small_cnn):
    """Starting at v = 0 the count after T steps floors T times the rate in every layer (a
    bias of up to one spike that compounds through the layers); starting at half the
    threshold rounds it (Bu et al. 2022). The output's accumulated input per step then lies
    closer to the rate model's, and for both starts the error shrinks as T grows (~1/T)."""
    cnn, x, xt, _ = small_cnn
    conv = convert(cnn, x)
    z = rate_model(conv, xt)[-1]
    error = {}
    for v_init in (0.0, 0.5):
        sim = simulate_torch(conv, xt, steps=(16, 64), v_init=v_init)
        error[v_init] = [np.abs(sim.out_potential[k] / T - z).mean()
                         for k, T in enumerate(sim.steps)]
        assert error[v_init][1] < error[v_init][0]
    assert error[0.5][0] < error[0.0][0] / 2 and error[0.5][1] < error[0.0][1] / 2


def test_rate_model_equals_the_ann_when_nothing_saturates(small_cnn):
    """Normalised by the maximum on the very images it runs, no rate is clipped: the rate
    network in Brian2 is then the ANN divided by the output factor."""
    cnn, _, xt, _ = small_cnn
    conv = convert(cnn, xt, "max")
    z = rate_model(conv, xt)[-1]
    logits = cnn.activations(xt)[-1]
    np.testing.assert_allclose(z * conv.factors[-1], logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(np.argmax(z, axis=1), cnn.predict(xt))


def test_cnn_weights_round_trip(small_cnn, tmp_path):
    from brainlearn.atomic import save_npz

    cnn = small_cnn[0]
    save_npz(tmp_path / "cnn.npz", **cnn.arrays())
    back = CNN.load(tmp_path / "cnn.npz")
    np.testing.assert_array_equal(back.predict(small_cnn[2]), cnn.predict(small_cnn[2]))


@pytest.mark.slow
def test_cpp_standalone_counts_equal_runtime(small_cnn, tmp_path):
    """The standalone build runs the same network: identical output counts (a compile, ~1 min)."""
    cnn, x, xt, _ = small_cnn
    conv = convert(cnn, x)
    runtime = simulate(conv, xt[:6], steps=(8, 16))[0]
    standalone = simulate(conv, xt[:6], steps=(8, 16), device="cpp_standalone",
                          directory=tmp_path / "build")[0]
    np.testing.assert_array_equal(runtime.out_counts, standalone.out_counts)
    np.testing.assert_array_equal(runtime.spikes, standalone.spikes)


def test_folding_the_pools_keeps_the_rate_network_and_quadruples_the_next_synapses(small_cnn):
    """A pool's rate is the mean of its window (never clipped), so folding it into the next
    layer (P @ W) leaves the rate network's output unchanged; each post-pool synapse becomes
    four."""
    from brainlearn.models.conversion import fold_pools

    cnn, x, xt, _ = small_cnn
    conv = convert(cnn, x)
    folded = fold_pools(conv)
    assert [layer.name for layer in folded.layers] == ["conv1", "conv2", "fc1", "output"]
    np.testing.assert_allclose(rate_model(folded, xt)[-1], rate_model(conv, xt)[-1], atol=1e-9)
    by_name = {layer.name: layer.n_synapses for layer in conv.layers}
    assert folded.layers[2].n_synapses == 4 * by_name["fc1"]
    assert folded.layers[1].n_synapses == 4 * by_name["conv2"]
