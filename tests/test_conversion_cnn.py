"""The converted CNN: unrolled convolutions equal PyTorch's, the IF network follows the ANN."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the CNN is trained with the torch extra")

import scipy.sparse as sp  # noqa: E402

from brainlearn.models.conversion_cnn import (  # noqa: E402
    conv_synapses,
    convert_cnn,
    evaluate_cnn,
    pool_synapses,
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
    conv = convert_cnn(cnn, x, "99.9")
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
    table = evaluate_cnn(cnn, xt, yt, x, steps=(8, 64))
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
                 "--epochs", "1", "--test-examples", "10", "--steps", "4,8",
                 "--device", "runtime", "--out", str(out)])
    assert code == 0
    results = pd.read_csv(out / "results.csv")
    assert list(results["steps"]) == [4, 8] and (results["n_examples"] == 10).all()
    assert rundir.read_config(out)["kind"] == "conversion_cnn"
    assert rundir.read_metrics(out)["parameters"] == 2 * 9 + 2 + 4 * 18 + 4 + 196 * 8 + 8 + 90
    assert "-> " in capsys.readouterr().out


@pytest.mark.slow
def test_cpp_standalone_counts_equal_runtime(small_cnn, tmp_path):
    """The standalone build runs the same network: identical output counts (a compile, ~1 min)."""
    from brainlearn.models.conversion_cnn import simulate_cnn

    cnn, x, xt, _ = small_cnn
    conv = convert_cnn(cnn, x)
    runtime = simulate_cnn(conv, xt[:6], steps=(8, 16))
    standalone = simulate_cnn(conv, xt[:6], steps=(8, 16), device="cpp_standalone",
                              directory=tmp_path / "build")
    np.testing.assert_array_equal(runtime["out_counts"], standalone["out_counts"])
    assert runtime["spikes"] == standalone["spikes"]
