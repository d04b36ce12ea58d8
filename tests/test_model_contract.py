"""The model contract: a model defined here, in this file only, is registered and then found by
``brainlearn models list``, ``brainlearn compare`` and ``brainlearn sweep``, without any other
file knowing it."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainlearn import rundir
from brainlearn.cli import main
from brainlearn.experiments import EXPERIMENTS, Experiment
from brainlearn.models import (
    MODELS,
    ModelSpec,
    compare_runs,
    get_model,
    lazy,
    model_of,
    register_model,
    unregister_model,
)

TOY = "toy-nearest-mean"


# ----------------------------------------------------------------- the toy model, whole
def toy_train(run_dir, *, data: str = "embedded", seed: int = 0, **options) -> dict:
    """Class means of two Gaussian blobs (the seed draws them); no simulator at all."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-1, 1, (50, 2)), rng.normal(1, 1, (50, 2))])
    y = np.repeat([0, 1], 50)
    with rundir.new_run(run_dir) as run:
        rundir.write_config(run, {"model": TOY, "seed": seed})
        np.save(run / "means.npy", np.stack([x[y == k].mean(0) for k in (0, 1)]))
        return rundir.update_metrics(run, {"train_seconds": 0.01})


def toy_evaluate(run_dir, **options) -> dict:
    means = np.load(Path(run_dir) / "means.npy")
    rng = np.random.default_rng(123)
    x = np.concatenate([rng.normal(-1, 1, (100, 2)), rng.normal(1, 1, (100, 2))])
    y = np.repeat([0, 1], 100)
    predicted = np.argmin(((x[:, None] - means[None]) ** 2).sum(-1), axis=1)
    return rundir.update_metrics(run_dir, {"accuracy": float((predicted == y).mean()),
                                           "test_examples": len(y)})


def toy_rows(run_dir) -> list[dict]:
    metrics = rundir.read_metrics(run_dir)
    if "accuracy" not in metrics:
        raise ValueError(f"{run_dir} is not evaluated yet")
    return [{"method": "toy nearest mean", "accuracy": metrics["accuracy"],
             "train_seconds": metrics["train_seconds"], "parameters": 4,
             "test_examples": metrics["test_examples"], "source": str(run_dir)}]


class ToyBrightness:
    """The toy's estimator: an image is class 1 when its mean pixel is above the run's cut."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return (X.reshape(len(X), -1).mean(axis=1) > self.cut).astype(int)


def toy_load(run_dir) -> ToyBrightness:
    return ToyBrightness(cut=float(rundir.read_config(run_dir)["seed"]) + 50.0)


def toy_sweep(params: dict, seed: int, workdir: Path) -> dict:
    toy_train(workdir / "run", seed=seed)
    return {"accuracy": toy_evaluate(workdir / "run")["accuracy"]}


@pytest.fixture
def toy():
    spec = register_model(ModelSpec(
        name=TOY, title="nearest class mean of two Gaussian blobs", family="toy",
        citation="none", train=toy_train, evaluate=toy_evaluate, rows=toy_rows, load=toy_load,
        sweep=Experiment("toy", toy_sweep, "the toy model at a seed", {}),
    ))
    yield spec
    unregister_model(TOY)


# ------------------------------------------------------------------------------ the tests
def test_a_model_registered_in_a_test_file_appears_in_models_list(toy, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert TOY in out and "nearest class mean" in out
    builtin = [name for name in MODELS if name != TOY]
    assert "diehl-cook-2015" in builtin and all(name in out for name in builtin)


def test_the_comparison_asks_the_toy_model_for_its_rows(toy, tmp_path):
    run = tmp_path / "toy"
    toy.train(run, seed=1)
    with pytest.raises(ValueError, match="not evaluated"):
        compare_runs([run])
    toy.evaluate(run)
    assert model_of(run) is toy
    out = tmp_path / "cmp"
    assert main(["compare", str(run), "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert list(table["method"]) == ["toy nearest mean"]
    assert table["model"].iloc[0] == TOY
    # two blobs two standard deviations apart: the nearest mean is right ~84 % of the time
    assert 0.7 < table["accuracy"].iloc[0] < 0.95


def test_a_sweep_runs_the_toy_models_task(toy, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "--experiment", "toy", "--seeds", "3", "--serial",
                 "--no-progress", "--out", str(out)]) == 0
    results = pd.read_csv(out / "results.csv")
    assert sorted(results["seed"]) == [0, 1, 2] and (results["status"] == "ok").all()
    assert results["accuracy"].between(0.7, 0.95).all()
    assert results["accuracy"].nunique() > 1  # the seed reaches the model


def test_brainlearn_predict_uses_the_models_own_estimator(toy, tmp_path, capsys):
    run = tmp_path / "toy"
    toy.train(run, seed=0)
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[1] = 200  # bright: class 1; the other two are black: class 0
    np.save(tmp_path / "digits.npy", images)
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(run), "--images", str(tmp_path / "digits.npy"), "--invert", "no",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table["image"]) == [0, 1, 2] and list(table["label"]) == [0, 1, 0]
    # a file that is no image: one line naming it, and no output written
    (tmp_path / "notes.txt").write_text("not images")
    out.unlink()
    assert main(["predict", str(run), "--images", str(tmp_path / "notes.txt"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "notes.txt" in err and len(err.splitlines()) == 1 and not out.exists()


def test_unregistering_removes_the_model_and_its_sweep_task(toy):
    unregister_model(TOY)
    assert TOY not in MODELS and "toy" not in EXPERIMENTS
    with pytest.raises(ValueError, match="unknown model 'toy-nearest-mean'"):
        get_model(TOY)


def test_a_second_model_under_one_name_is_refused(toy):
    other = ModelSpec(name=TOY, title="x", family="x", citation="x", train=toy_train,
                      evaluate=toy_evaluate)
    with pytest.raises(ValueError, match="registered already"):
        register_model(other)


def test_a_spec_whose_callables_are_not_callable_is_refused():
    with pytest.raises(TypeError, match="train must be callable"):
        ModelSpec(name="bad", title="x", family="x", citation="x", train="brainlearn mnist "
                  "train", evaluate=toy_evaluate)


def test_a_run_directory_no_model_knows_is_named(tmp_path):
    (tmp_path / "config.json").write_text('{"kind": "something else"}')
    with pytest.raises(ValueError, match="no registered model recognises"):
        compare_runs([tmp_path])


def test_lazy_callables_import_on_call_and_pickle_by_path():
    f = lazy("numpy:add")
    assert f(2, 3) == 5
    again = pickle.loads(pickle.dumps(f))
    assert again == f and again(1, 1) == 2
    with pytest.raises(ValueError, match="module:function"):
        lazy("numpy.add")


def test_every_builtin_model_answers_the_contract():
    for spec in MODELS.values():
        assert callable(spec.train) and callable(spec.evaluate) and callable(spec.rows)
        assert spec.title and spec.family and spec.citation
    sweeps = {spec.sweep.name for spec in MODELS.values() if spec.sweep is not None}
    assert {"mnist", "conversion"} <= sweeps


def test_models_train_and_evaluate_run_the_toy_models_own_callables(toy, tmp_path, capsys):
    run = tmp_path / "toy"
    assert main(["models", "train", "--model", TOY, "--out", str(run), "--seed", "3",
                 "--set", "ignored=1"]) == 0
    assert rundir.read_config(run) == {"model": TOY, "seed": 3}
    assert main(["models", "evaluate", str(run)]) == 0  # the model is found from the run
    assert f"{TOY}: accuracy" in capsys.readouterr().out
    assert rundir.read_metrics(run)["accuracy"] > 0.7
    with pytest.raises(SystemExit):
        main(["models", "train", "--out", str(tmp_path / "x")])  # --model is required
