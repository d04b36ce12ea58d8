"""Run directories of the converted networks: train an ANN on MNIST, convert it, evaluate it.

A run is described by one config dataclass, :class:`MLPRunConfig` (``brainlearn convert
train``) or :class:`CNNRunConfig` (``brainlearn convert cnn``), validated when it is built;
:func:`train_run` writes the directory (see :mod:`brainlearn.rundir`) and :func:`evaluate_run`
evaluates the ANN of either kind converted to IF neurons in Brian2.

>>> train_run("runs/mlp500", MLPRunConfig(hidden=(500,), epochs=20, seed=0))  # doctest: +SKIP
>>> evaluate_run("runs/mlp500", steps=(16, 32, 64))                            # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.atomic import atomic_path
from brainlearn.lanes import preprocess
from brainlearn.models.conversion.ann import (
    CNN,
    MLP,
    MLP_SCHEDULES,
    SCHEDULES,
    train_cnn,
    train_mlp,
)
from brainlearn.models.conversion.evaluation import READOUTS, evaluate
from brainlearn.models.conversion.network import check_v_init
from brainlearn.models.conversion.normalise import parse_norm
from brainlearn.models.conversion.plots import plot_accuracy
from brainlearn.models.conversion.replica import PRECISIONS

__all__ = ["MLPRunConfig", "CNNRunConfig", "train_run", "evaluate_run", "load_ann", "norm_images",
           "MLP_MODEL", "CNN_MODEL", "SOURCES", "DEVICES"]

#: Registry names of the two converted networks (``config.json``'s ``"model"``).
MLP_MODEL, CNN_MODEL = "converted-mlp", "converted-cnn"
SOURCES = ("full", "embedded")
DEVICES = ("runtime", "cpp_standalone")


def _one_of(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def _positive(name: str, value, minimum: int = 1) -> None:
    if value is not None and (int(value) != value or value < minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class MLPRunConfig:
    """How ``brainlearn convert train`` trains the MLP (:func:`~brainlearn.models.conversion.train_mlp`).

    The default recipe: a 784-500-10 ReLU MLP, 20 epochs of Adam from ``lr`` 2e-3 annealed
    per epoch on a cosine (``schedule="cosine"``), minibatches of 128, L2 penalty ``alpha``
    0.03 (scikit-learn's, divided by the batch size: 2.3e-4 per example), on all 60,000
    training images (``source="full"``). It reaches 98.42 / 98.60 / 98.43 % on the test split
    at seeds 0 / 1 / 2, where a constant 1e-3 with ``alpha`` 1e-4 reached 98.39 / 97.89 /
    98.31 %.
    """

    hidden: tuple = (500,)
    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-3
    alpha: float = 0.03
    schedule: str = "cosine"
    seed: int = 0
    source: str = "full"
    train_examples: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in np.atleast_1d(self.hidden)))
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must list positive layer sizes, got {self.hidden!r}")
        for name in ("epochs", "batch_size", "train_examples"):
            _positive(name, getattr(self, name))
        _one_of("schedule", self.schedule, MLP_SCHEDULES)
        _one_of("source", self.source, SOURCES)


@dataclass(frozen=True)
class CNNRunConfig:
    """How ``brainlearn convert cnn`` trains, converts and evaluates the CNN.

    Training (:func:`~brainlearn.models.conversion.train_cnn`): ``channels, hidden, epochs,
    batch_size, lr, schedule, shift, weight_decay, seed, threads``; ``validation`` seeded
    training images are held out; ``weights`` (a ``cnn.npz``) skips training.

    Evaluation: the IF network runs in PyTorch (:func:`~brainlearn.models.conversion.simulate_torch`,
    ``precision``) at every ``fast_steps`` for every ``fast_v_init`` on the first
    ``fast_examples`` images of each of ``fast_splits`` (``"test"`` and the held-out
    ``"validation"`` images, where options are chosen), and in Brian2 at ``steps`` with
    ``v_init`` and ``readout`` on the first ``brian2_examples`` of the ``test_examples`` test
    images (0 skips Brian2), ``chunk`` images per build on ``device``. ``norm_examples``
    seeded training images set the ``norm`` percentile.
    """

    channels: tuple = (32, 64)
    hidden: int = 128
    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    schedule: str = "constant"
    shift: int = 0
    weight_decay: float = 0.0
    validation: int = 0
    seed: int = 0
    threads: int = 1
    weights: str | None = None
    steps: tuple = (16, 32, 64)
    fast_steps: tuple = (8, 16, 32, 64, 128, 256)
    fast_v_init: tuple = (0.0, 0.5)
    v_init: float = 0.5
    readout: str = "count"
    norm: str = "99.9"
    test_examples: int | None = None
    brian2_examples: int | None = None
    fast_examples: int | None = None
    fast_splits: tuple = ("test", "validation")
    precision: str = "float32"
    norm_examples: int = 10000
    chunk: int = 2500
    device: str = "cpp_standalone"
    source: str = "full"

    def __post_init__(self) -> None:
        for name in ("channels", "steps", "fast_steps", "fast_splits"):
            object.__setattr__(self, name, tuple(np.atleast_1d(getattr(self, name)).tolist()))
        object.__setattr__(self, "fast_v_init",
                           tuple(check_v_init(v) for v in np.atleast_1d(self.fast_v_init)))
        object.__setattr__(self, "v_init", check_v_init(self.v_init))
        object.__setattr__(self, "norm", str(self.norm))
        parse_norm(self.norm)
        if self.weights is not None and not Path(self.weights).is_file():
            raise ValueError(f"weights {self.weights}: no such file (a cnn.npz written by "
                             "brainlearn convert cnn)")
        if "test" not in self.fast_splits:
            raise ValueError(f"fast_splits must include 'test', got {self.fast_splits!r}")
        for split in self.fast_splits:
            _one_of("fast_splits", split, ("test", "validation"))
        for name in ("epochs", "batch_size", "hidden", "threads", "chunk", "norm_examples"):
            _positive(name, getattr(self, name))
        for name in ("shift", "validation", "brian2_examples"):
            _positive(name, getattr(self, name), minimum=0)
        _one_of("schedule", self.schedule, SCHEDULES)
        _one_of("readout", self.readout, READOUTS)
        _one_of("precision", self.precision, PRECISIONS)
        _one_of("device", self.device, DEVICES)
        _one_of("source", self.source, SOURCES)


def train_run(out, config: MLPRunConfig | CNNRunConfig | None = None, *, progress: bool = True,
              **options) -> dict:
    """Train (and for the CNN convert and evaluate) a network; write the run directory ``out``.

    Parameters
    ----------
    out : path
        The run directory (created; a failed run leaves none behind).
    config : MLPRunConfig or CNNRunConfig, optional
        The run (default: ``MLPRunConfig(**options)``).
    progress : bool
        Progress output while training.
    **options
        Fields of the config, replacing those of ``config``.

    Returns
    -------
    dict
        The run's ``metrics.json``.

    Notes
    -----
    The MLP run writes ``mlp.npz``, ``weights.npz`` (the first layer, ``(784, hidden)``:
    receptive fields for ``brainlearn analyze``), ``train_metrics.csv`` (training curve and
    test accuracy), ``config.json`` (``kind`` ``"conversion"``) and ``metrics.json``
    (``test_accuracy, train_seconds, sizes, test_examples``); convert and evaluate it with
    :func:`evaluate_run`. The CNN run also converts and evaluates: ``cnn.npz``,
    ``train_metrics.csv``, ``results.csv`` (one row per split, simulator, ``v_init`` and
    ``T``), ``accuracy_vs_steps.png``, ``config.json`` (``kind`` ``"conversion_cnn"``) and
    ``metrics.json``. The data are loaded before anything is written.
    """
    if config is None:
        config = MLPRunConfig(**options)
    elif options:
        config = dataclasses.replace(config, **options)
    if isinstance(config, CNNRunConfig):
        return _cnn_run(out, config, progress)
    if not isinstance(config, MLPRunConfig):
        raise TypeError(f"config must be an MLPRunConfig or a CNNRunConfig, got {config!r}")
    return _train_mlp_run(out, config, progress)


def _train_mlp_run(out, config: MLPRunConfig, progress: bool) -> dict:
    from brainlearn.data import load_mnist

    x_train, y_train = load_mnist("train", n=config.train_examples, source=config.source)
    x_test, y_test = load_mnist("test", source=config.source)
    with rundir.new_run(out) as run:
        start = time.perf_counter()
        mlp = train_mlp(preprocess(x_train), y_train, hidden=config.hidden, epochs=config.epochs,
                        batch_size=config.batch_size, lr=config.lr, alpha=config.alpha,
                        schedule=config.schedule, seed=config.seed, progress=progress)
        wall = time.perf_counter() - start
        test_accuracy = mlp.score(preprocess(x_test), y_test)
        mlp.save(run / "mlp.npz")
        rundir.write_weights(run, mlp.weights[0])
        history = mlp.history.copy()
        history["test_accuracy"] = float("nan")
        history.loc[history.index[-1], "test_accuracy"] = test_accuracy
        with atomic_path(run / "train_metrics.csv") as tmp:
            history.to_csv(tmp, index=False)
        rundir.write_config(run, {
            **dataclasses.asdict(config), "hidden": list(config.hidden), "model": MLP_MODEL,
            "trainer": "sklearn.neural_network.MLPClassifier", "train_examples": len(x_train),
        }, kind="conversion")
        metrics = {"test_accuracy": test_accuracy, "train_seconds": round(wall, 1),
                   "sizes": list(mlp.sizes), "test_examples": len(x_test)}
        rundir.update_metrics(run, metrics)
    return metrics


def load_ann(run_dir) -> MLP | CNN:
    """The ANN of a conversion run: ``mlp.npz`` (``convert train``) or ``cnn.npz`` (``convert cnn``)."""
    root = rundir.open_run(run_dir)
    if (root / "cnn.npz").is_file():
        return CNN.load(root / "cnn.npz")
    return MLP.load(root / "mlp.npz")


def _merge_results(path: Path, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` replacing the rows of ``path`` with the same configuration."""
    if not path.exists():
        return table
    old = pd.read_csv(path, dtype={"norm": str})
    key = [c for c in ("split", "simulator", "steps", "input", "norm", "reset", "v_init",
                       "readout") if c in old and c in table]
    merged = old.merge(table[key].drop_duplicates(), on=key, how="left", indicator=True)
    return pd.concat([old[(merged["_merge"] == "left_only").to_numpy()], table],
                     ignore_index=True)


def evaluate_run(run_dir, *, steps=(8, 16, 32, 64, 128, 256), inputs=("analog",),
                 norms=("99.9",), resets=("subtract",), v_init: float = 0.0,
                 readout: str = "count", test_examples: int | None = None,
                 norm_examples: int = 10000, device: str = "cpp_standalone",
                 lanes: int | None = None, chunk: int | None = None, seed: int = 0,
                 source: str = "full") -> pd.DataFrame:
    """Evaluate the ANN of a conversion run (MLP or CNN) converted to IF neurons in Brian2.

    Runs :func:`~brainlearn.models.conversion.evaluate` on the first ``test_examples`` test
    images, normalised with ``norm_examples`` seeded training images, and writes
    ``results.csv`` (rows replace earlier rows of the same configuration),
    ``accuracy_vs_steps.png`` and the best accuracy into ``metrics.json``. Returns the whole
    merged table.
    """
    from brainlearn.analysis.plots import save_figure
    from brainlearn.data import load_mnist

    root = rundir.open_run(run_dir)
    ann = load_ann(root)
    for norm in norms:
        parse_norm(norm)
    _one_of("device", device, DEVICES)
    x_test, y_test = load_mnist("test", n=test_examples, source=source)
    x_norm, _ = load_mnist("train", n=norm_examples, seed=seed, source=source)
    start = time.perf_counter()
    table = evaluate(ann, x_test, y_test, x_norm, steps=steps, inputs=inputs, norms=norms,
                     resets=resets, v_init=v_init, readout=readout, device=device,
                     lanes=lanes, chunk=chunk, seed=seed,
                     directory=root / "build" if device == "cpp_standalone" else None)
    table["wall_seconds"] = round(time.perf_counter() - start, 1)
    table["device"] = device
    if isinstance(ann, CNN):
        table["split"] = "test"
    path = root / "results.csv"
    table = _merge_results(path, table)
    order = [c for c in ("split", "simulator", "input", "norm", "reset", "v_init", "readout",
                         "steps") if c in table]
    table = table.sort_values(order).reset_index(drop=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    shown = table[table["split"] == "test"] if "split" in table else table
    save_figure(plot_accuracy(shown), root / "accuracy_vs_steps.png")
    rundir.update_metrics(root, {"snn_best_accuracy": float(table["accuracy"].max()),
                                 "ann_accuracy": float(table["ann_accuracy"].iloc[0])})
    return table


# --------------------------------------------------------------------------------------------
# The CNN run: train (or load), convert, evaluate in PyTorch and in Brian2
# --------------------------------------------------------------------------------------------
def _split(x, y, validation: int, seed: int):
    """Hold out ``validation`` seeded training images: ``(train, held-out)`` pairs."""
    if validation <= 0:
        return (x, y), None
    if validation >= len(x):
        raise ValueError(f"validation must be smaller than the {len(x)} training images, "
                         f"got {validation}")
    order = np.random.default_rng(seed).permutation(len(x))
    held, kept = order[:validation], order[validation:]
    return (x[kept], y[kept]), (x[held], y[held])


def _norm_pick(x, seed: int, n: int):
    """``n`` seeded training images for the normalisation."""
    return x[np.random.default_rng(seed).permutation(len(x))[:min(int(n), len(x))]]


def norm_images(config) -> np.ndarray:
    """The normalisation images of a ``brainlearn convert cnn`` run, from its ``config.json``
    (``source``, ``validation``, ``seed``, ``norm_examples``): the same images it used."""
    from brainlearn.data import load_mnist

    seed = int(config.get("seed") or 0)
    x_all, y_all = load_mnist("train", source=config.get("source", "full"))
    (x, _), _ = _split(x_all, y_all, int(config.get("validation_examples",
                                                    config.get("validation", 0)) or 0), seed)
    return _norm_pick(x, seed, config.get("norm_examples", 10000))


def _cnn_weights(config: CNNRunConfig, x, y, held, progress: bool):
    """The trained CNN, its training seconds and the training run it came from (if loaded)."""
    if config.weights is None:
        start = time.perf_counter()
        cnn = train_cnn(x, y, channels=config.channels, hidden=config.hidden,
                        epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                        schedule=config.schedule, shift=config.shift,
                        weight_decay=config.weight_decay, seed=config.seed,
                        threads=config.threads, validation=held, progress=progress)
        return cnn, time.perf_counter() - start, None
    cnn = CNN.load(config.weights)
    source_run = Path(config.weights).parent
    trained = None
    if (source_run / "train_metrics.csv").exists():
        cnn.history = pd.read_csv(source_run / "train_metrics.csv")
    if (source_run / rundir.CONFIG).exists():
        trained = rundir.read_config(source_run)
    seconds = float(rundir.read_metrics(source_run).get("train_seconds", np.nan)) \
        if trained is not None else 0.0
    return cnn, seconds, trained


def _cnn_tables(run: Path, config: CNNRunConfig, cnn: CNN, splits, x_norm, n_brian: int,
                progress: bool) -> pd.DataFrame:
    """The PyTorch rows (every split, ``v_init`` and both readouts) and the Brian2 rows."""
    tables = []
    for split, images, labels in splits:
        if split not in config.fast_splits:
            continue
        for k, v0 in enumerate(config.fast_v_init):
            n = config.fast_examples
            part = evaluate(cnn, images[:n], labels[:n], x_norm, steps=config.fast_steps,
                            norms=(config.norm,), v_init=v0, simulator="torch",
                            threads=config.threads, precision=config.precision, rate=k == 0,
                            progress=progress)
            for ro in READOUTS:  # one simulation gives both readouts
                tables.append(part.assign(split=split, readout=ro,
                                          accuracy=part["accuracy_" + ro]))
    rate_acc = float(tables[0]["rate_accuracy"].iloc[0])
    n_fast = int(tables[0]["n_examples"].iloc[0])
    if n_brian:
        xt, yt = splits[0][1], splits[0][2]
        part = evaluate(cnn, xt[:n_brian], yt[:n_brian], x_norm, steps=config.steps,
                        norms=(config.norm,), v_init=config.v_init, readout=config.readout,
                        device=config.device, chunk=config.chunk, rate=False,
                        directory=run / "build" if config.device == "cpp_standalone" else None,
                        progress=progress)
        tables.append(part.assign(split="test"))
    table = pd.concat(tables, ignore_index=True)
    table.loc[(table["split"] == "test") & (table["n_examples"] == n_fast)
              & table["rate_accuracy"].isna(), "rate_accuracy"] = rate_acc
    return table


def _cnn_metrics(cnn: CNN, table: pd.DataFrame, config: CNNRunConfig, xt, yt,
                 train_seconds: float, n_brian: int) -> dict:
    test = table[(table["split"] == "test") & (table["simulator"] == "torch")]
    metrics = {"ann_accuracy": cnn.score(xt, yt),
               "rate_accuracy": float(test["rate_accuracy"].iloc[0]),
               "fast_examples": int(test["n_examples"].iloc[0]),
               "train_seconds": round(train_seconds, 1), "parameters": cnn.n_parameters,
               "synapses": int(table["synapses"].iloc[0]), "test_examples": len(xt)}
    if "val_accuracy" in cnn.history:
        metrics["val_accuracy"] = float(cnn.history["val_accuracy"].iloc[-1])
    if len(cnn.history):
        metrics["seconds_per_epoch"] = round(float(cnn.history["seconds"].mean()), 1)
    chosen = test[(test["v_init"] == config.v_init) & (test["readout"] == config.readout)]
    for _, r in chosen.iterrows():
        metrics[f"torch_accuracy_T{int(r['steps'])}"] = float(r["accuracy"])
    brian = table[table["simulator"] == "brian2"]
    if len(brian):
        metrics.update({"snn_best_accuracy": float(brian["accuracy"].max()),
                        "ms_per_image": float(brian["ms_per_image"].iloc[0]),
                        "brian2_examples": n_brian})
        for _, r in brian.iterrows():
            metrics[f"brian2_accuracy_T{int(r['steps'])}"] = float(r["accuracy"])
    return metrics


def _cnn_run(out, config: CNNRunConfig, progress: bool) -> dict:
    from brainlearn.analysis.plots import save_figure
    from brainlearn.data import load_mnist

    x_all, y_all = load_mnist("train", source=config.source)
    (x, y), held = _split(x_all, y_all, int(config.validation), config.seed)
    xt, yt = load_mnist("test", n=config.test_examples, source=config.source)
    x_norm = _norm_pick(x, config.seed, config.norm_examples)
    n_brian = len(xt) if config.brian2_examples is None else min(config.brian2_examples, len(xt))
    with rundir.new_run(out) as run:
        cnn, train_seconds, trained = _cnn_weights(config, x, y, held, progress)
        cnn.save(run / "cnn.npz")
        with atomic_path(run / "train_metrics.csv") as tmp:
            cnn.history.to_csv(tmp, index=False)
        rundir.write_config(run, {
            **dataclasses.asdict(config), "model": CNN_MODEL,
            "channels": [int(k.shape[0]) for k, _ in cnn.conv], "hidden": int(cnn.fc[0][0].shape[1]),
            "optimizer": "AdamW" if config.weight_decay else "Adam",
            "train_examples": len(x), "validation_examples": 0 if held is None else len(held[0]),
            "test_examples": len(xt), "brian2_examples": n_brian, "norm_examples": len(x_norm),
            "trained": trained}, kind="conversion_cnn")
        splits = [("test", xt, yt)] + ([] if held is None else [("validation", *held)])
        table = _cnn_tables(run, config, cnn, splits, x_norm, n_brian, progress)
        with atomic_path(run / "results.csv") as tmp:
            table.to_csv(tmp, index=False)
        save_figure(plot_accuracy(table[table["split"] == "test"]), run / "accuracy_vs_steps.png")
        metrics = _cnn_metrics(cnn, table, config, xt, yt, train_seconds, n_brian)
        rundir.update_metrics(run, metrics)
    return metrics
