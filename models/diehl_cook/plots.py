"""Figures of a Diehl & Cook run directory: receptive fields, accuracy, confusion, theta."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlearn import rundir
from brainlearn.analysis.plots import new_figure, receptive_fields, save_figure

__all__ = ["plot_run", "plot_tune", "plot_passes", "receptive_field_image", "FIGURE_FIELDS"]

#: networks up to this many cells get the receptive fields as a figure with a colour bar;
#: larger ones an image at full resolution (one pixel per weight, all cells)
FIGURE_FIELDS = 400


def plot_run(run_dir: str | Path) -> list[Path]:
    """Write the run's figures as PNG files into the run directory and return their paths.

    ``receptive_fields.png`` (input weights of every neuron as a 28x28 image, as in the
    paper's Fig. 2; above ``FIGURE_FIELDS`` cells an image of all of them at one pixel per
    weight, :func:`receptive_field_image`), ``passes.png`` (accuracy per pass, when the run
    kept ``passes.csv``, :func:`plot_passes`), ``training_accuracy.png`` (accuracy of each chunk during training, labels
    assigned from the previous chunk), ``confusion.png`` (test set, needs ``evaluate``) and
    ``theta.png`` (histogram of the adaptive thresholds).
    """
    run_dir = rundir.open_run(run_dir)
    saved = rundir.read_weights(run_dir)
    if saved is None:
        raise FileNotFoundError(f"{run_dir} has no {rundir.WEIGHTS}: train first")
    weights, theta = saved["weights"], saved["theta"]
    written = []
    n = weights.shape[1]
    if n > FIGURE_FIELDS:
        written.append(receptive_field_image(weights, run_dir / "receptive_fields.png"))
    else:
        fig = receptive_fields(weights, max_neurons=n)
        written.append(save_figure(fig, run_dir / "receptive_fields.png"))
    if (run_dir / "passes.csv").exists():
        written.append(plot_passes(run_dir))

    metrics = rundir.read_metrics(run_dir)
    history = np.asarray(metrics.get("training_accuracy") or [], dtype=float).reshape(-1, 2)
    fig = new_figure(6, 3.5)
    ax = fig.add_subplot()
    if len(history):
        ax.plot(history[:, 0], 100 * history[:, 1], marker="o", ms=3)
    if "accuracy" in metrics:
        scored = "validation" if metrics.get("scored_on") == "validation" else "test"
        ax.axhline(100 * metrics["accuracy"], color="k", ls="--",
                   label=f"{scored} {100 * metrics['accuracy']:.1f} %")
        ax.legend(loc="lower right")
    ax.set(xlabel="training examples", ylabel="accuracy (%)", ylim=(0, 100),
           title=f"Diehl & Cook, N={n}: accuracy during training")
    written.append(save_figure(fig, run_dir / "training_accuracy.png"))

    counts_path = run_dir / "eval_counts.npz"
    if counts_path.exists():
        with np.load(counts_path) as data:
            truth, pred = data["test_labels"], data["predictions"]
        confusion = np.zeros((10, 10), dtype=int)
        np.add.at(confusion, (truth, pred), 1)
        fig = new_figure(5, 4.5)
        ax = fig.add_subplot()
        image = ax.imshow(confusion, cmap="Blues")
        for (r, c), value in np.ndenumerate(confusion):
            ax.text(c, r, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > confusion.max() / 2 else "black")
        ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10),
               title=f"confusion (accuracy {100 * (truth == pred).mean():.1f} %)")
        fig.colorbar(image, ax=ax, shrink=0.8)
        written.append(save_figure(fig, run_dir / "confusion.png"))

    fig = new_figure(5, 3.5)
    ax = fig.add_subplot()
    ax.hist(theta * 1e3, bins=30, color="tab:orange")
    ax.set(xlabel="theta (mV)", ylabel="neurons", title="adaptive thresholds after training")
    written.append(save_figure(fig, run_dir / "theta.png"))
    return written


def receptive_field_image(weights: np.ndarray, path: str | Path, scale: int = 2) -> Path:
    """Write the receptive fields of all cells as one PNG at full resolution.

    Each cell's 784 input weights are a 28x28 tile, tiles on a square grid, one grey pixel
    between them; every weight is ``scale`` x ``scale`` pixels, white 0 to black at the
    largest weight (``hot_r``, as the paper's Fig. 2). For N=6,400 that is 80 x 80 tiles,
    4,478 pixels square at ``scale=2``: zoom in to read any cell.

    Parameters
    ----------
    weights : ndarray
        Input weights ``(784, n)``.
    path : path
        The PNG written (atomically).
    scale : int
        Pixels per weight along each side.
    """
    from matplotlib import colormaps
    from matplotlib.image import imsave

    from brainlearn.atomic import atomic_path

    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != 784:
        raise ValueError(f"weights must be (784, n_neurons), got {w.shape}")
    n = w.shape[1]
    cols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    tiles = np.full((rows * cols, 28, 28), np.nan)
    tiles[:n] = w.T.reshape(n, 28, 28)
    padded = np.full((rows * cols, 29, 29), np.nan)
    padded[:, :28, :28] = tiles
    grid = padded.reshape(rows, cols, 29, 29).transpose(0, 2, 1, 3).reshape(rows * 29, cols * 29)
    grid = np.kron(grid[:-1, :-1], np.ones((int(scale), int(scale))))
    cmap = colormaps["hot_r"].with_extremes(bad="0.8")
    with atomic_path(Path(path)) as tmp:
        imsave(tmp, grid, cmap=cmap, vmin=0.0, vmax=max(float(np.nanmax(w)), 1e-12),
               format="png")
    return Path(path)


def _rows_with(table, column: str):
    # the rows of a pass table that have ``column`` (none when the table predates it)
    return table.dropna(subset=[column]) if column in table else table.iloc[:0]


def plot_passes(run_dir: str | Path) -> Path:
    """``passes.png``: the cheap score of every pass's snapshot (``passes.csv``) against the
    pass (the vote, and the logistic and online readouts of tables written since they exist),
    passes without a snapshot marked on the axis, and the run's evaluated accuracy
    (``metrics.json``) when there is one; on a second axis, the cells that fire from rest
    (``cells_fire_at_rest``, tables written since that column exists)."""
    import pandas as pd

    run_dir = Path(run_dir)
    table = pd.read_csv(run_dir / "passes.csv")
    fig = new_figure(6, 3.5)
    ax = fig.add_subplot()
    scored = table.dropna(subset=["accuracy_vote"])
    if len(scored):
        sizes = f"labels from {int(scored['assign_examples'].iloc[-1]):,} training images, " \
                f"vote on {int(scored['test_examples'].iloc[-1]):,} {scored['scored_on'].iloc[-1]} images"
        ax.plot(scored["pass"], 100 * scored["accuracy_vote"], marker="o", ms=4, label=sizes)
        for name, colour in (("logistic", "C2"), ("online", "C4")):  # tables since they exist
            fitted = _rows_with(table, f"accuracy_{name}")
            if len(fitted):
                ax.plot(fitted["pass"], 100 * fitted[f"accuracy_{name}"], marker="^", ms=4,
                        color=colour, label=f"{name} readout on the same counts")
    missing = table[table["snapshot"] == "no snapshot"]["pass"]
    if len(missing):
        ax.plot(missing, np.zeros(len(missing)), "x", color="0.5", clip_on=False,
                label="no snapshot (pass ended before snapshots were kept)")
    metrics = rundir.read_metrics(run_dir)
    if "accuracy_vote" in metrics:
        ax.axhline(100 * metrics["accuracy_vote"], color="k", ls="--",
                   label=f"final evaluation {100 * metrics['accuracy_vote']:.2f} % "
                         f"({int(metrics.get('test_examples', 0)):,} images)")
    ax.set(xlabel="pass over the training images", ylabel="accuracy (%)", ylim=(0, 100),
           xticks=table["pass"].tolist(), title="Diehl & Cook: accuracy after each pass")
    at_rest = _rows_with(table, "cells_fire_at_rest")
    if len(at_rest):
        right = ax.twinx()
        right.plot(at_rest["pass"], at_rest["cells_fire_at_rest"], "s--", color="C3", ms=3,
                   label="cells whose threshold lies below rest")
        right.set_ylabel("cells firing from rest", color="C3")
        # a count: whole-number ticks, and an axis from 0 to at least 1 when every count is 0
        from matplotlib.ticker import MaxNLocator

        right.yaxis.set_major_locator(MaxNLocator(integer=True))
        right.set_ylim(0, max(1, 1.05 * at_rest["cells_fire_at_rest"].max()))
    # one legend for both axes, below the plot (a legend per axis overlapped)
    handles = [h for a in fig.axes for h in a.get_legend_handles_labels()[0]]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", fontsize=7, frameon=False)
    return save_figure(fig, run_dir / "passes.png")


def plot_tune(out: str | Path) -> Path:
    """``tune.png`` of a ``brainlearn mnist tune`` directory: validation accuracy (vote and
    logistic readouts) against ``theta_plus``, one point per seed and the mean per candidate,
    with the paper's 0.05 mV marked."""
    import pandas as pd

    out = Path(out)
    runs = pd.read_csv(out / "tune.csv")
    fig = new_figure(6, 3.8)
    ax = fig.add_subplot()
    for column, colour, label in (("validation_vote", "C0", "vote (Diehl & Cook)"),
                                  ("validation_logistic", "C1", "logistic readout")):
        mean = runs.groupby("theta_plus_mV")[column].mean()
        ax.plot(runs["theta_plus_mV"], runs[column], "o", color=colour, alpha=0.4, ms=4)
        ax.plot(mean.index, mean.to_numpy(), "-", color=colour, label=f"{label}, mean")
    ax.axvline(0.05, color="k", ls=":", label="paper's theta_plus")
    ax.set_xscale("log")
    values = sorted(set(runs["theta_plus_mV"]) | {0.05})
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.minorticks_off()
    n = ", ".join(str(v) for v in sorted(runs["neurons"].unique()))
    ax.set(xlabel="theta_plus (mV)", ylabel="accuracy on held-out training images (%)",
           title=f"Diehl & Cook, N={n}: choosing theta_plus without the test set")
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, out / "tune.png")
