"""Diehl & Cook under ``cuda_standalone`` (brian2cuda): marked ``gpu``, excluded by default.

Run with ``python -m pytest -m gpu`` where the ``cuda`` extra is installed. The first test
needs brian2cuda and the CUDA toolkit only (no GPU): it generates and compiles the training
network; without a GPU it names a compute capability itself (``BRAINLEARN_TEST_CUDA_ARCH``,
default 9.0). ``BRAINLEARN_TEST_CUDA_EXTRA`` may name a directory whose ``include/`` and
``lib/`` hold toolkit parts installed apart (e.g. cuRAND from the ``nvidia-curand`` wheel).
The second test needs an NVIDIA GPU: it trains, checkpoints and evaluates on the embedded
subset, as ``test_diehl_cook.py`` does under cpp_standalone, with the same floors.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def _require(what: str) -> None:
    if what == "brian2cuda":
        pytest.importorskip("brian2cuda", reason="the cuda extra (brian2cuda) is not installed")
    elif what == "nvcc":
        from brainlearn.devices import nvcc_version

        if nvcc_version() is None:
            pytest.skip("no CUDA toolkit (nvcc on PATH or in $CUDA_PATH/bin)")
    elif what == "gpu" and shutil.which("nvidia-smi") is None:
        pytest.skip("no NVIDIA GPU (nvidia-smi not found)")


def test_diehl_cook_training_network_compiles_for_cuda(tmp_path):
    _require("brian2cuda")
    _require("nvcc")
    from brian2 import prefs

    from brainlearn.chunked import ChunkedSimulation
    from brainlearn.models.diehl_cook import initial_state
    from brainlearn.models.diehl_cook.model import DiehlCookParams, build_network

    backend = prefs.devices.cuda_standalone.cuda_backend
    if shutil.which("nvidia-smi") is None:
        backend.detect_gpus = False
        backend.gpu_id = 0
        backend.compute_capability = float(os.environ.get("BRAINLEARN_TEST_CUDA_ARCH", "9.0"))
    extra = os.environ.get("BRAINLEARN_TEST_CUDA_EXTRA")
    if extra:
        backend.extra_compile_args_nvcc = [*backend.extra_compile_args_nvcc, f"-I{extra}/include"]
        prefs.codegen.cpp.library_dirs = [*prefs.codegen.cpp.library_dirs, f"{extra}/lib"]
    params, n = DiehlCookParams(), 10
    delays = np.asarray(initial_state(params, n, 0).delays).reshape(784, n)
    with ChunkedSimulation(lambda: build_network(params, n, 5, delays, plastic=True),
                           5 * params.period, "cuda_standalone", tmp_path) as sim:
        pass
    assert sim.compile_seconds > 0
    assert (tmp_path / "build" / "main").exists()
    main = (tmp_path / "build" / "main.cu").read_text()
    # the chunk's seed comes from run_args, for cuRAND's host and device APIs
    assert "random_number_buffer.set_seed(" in main
    assert main.index("set_from_command_line(args)") < main.index("random_number_buffer.set_seed(")


def test_diehl_cook_trains_and_evaluates_on_cuda(tmp_path):
    _require("brian2cuda")
    _require("nvcc")
    _require("gpu")
    run_dir = tmp_path / "run"
    cli = [sys.executable, "-m", "brainlearn.cli", "mnist"]
    train = subprocess.run(
        [*cli, "train", "--neurons", "50", "--examples", "600", "--data", "embedded", "--chunk",
         "100", "--seed", "1", "--device", "cuda_standalone", "--no-progress", "--out",
         str(run_dir)], capture_output=True, text=True,
    )
    assert train.returncode == 0, train.stderr
    evaluated = subprocess.run(
        [*cli, "evaluate", str(run_dir), "--assign-examples", "1000", "--test-examples", "500",
         "--no-progress"], capture_output=True, text=True,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["device"] == "cuda_standalone"
    assert metrics["train_examples"] == 600 and metrics["test_examples"] == 500
    from brainlearn.rundir import read_weights

    w = read_weights(run_dir)["weights"]
    assert w.shape == (784, 50) and np.all(np.isfinite(w)) and w.min() >= 0
    np.testing.assert_allclose(w.sum(axis=0), 78.0, rtol=0.05)
    # the floor of the cpp_standalone end-to-end test (chance is 10 %)
    assert metrics["accuracy"] > 0.35
