"""The paper-style figure of an e-prop run (Bellec et al. 2020, Fig. 2/3 layout)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path

if TYPE_CHECKING:
    from brainlearn.models.eprop.network import EpropResult
    from brainlearn.models.eprop.tasks import Task

__all__ = ["plot_run"]


def plot_run(path: str | Path, result: EpropResult, task: Task, history: pd.DataFrame) -> Path:
    """The paper-style figure of the last sequence of a chunk.

    Panels: input raster, recurrent raster, readout against target (``yhat`` and ``y*``),
    loss per iteration. Written atomically to ``path``.

    Parameters
    ----------
    path : str or pathlib.Path
        The PNG file to write.
    result : brainlearn.models.eprop.network.EpropResult
        The chunk's records (spikes, readout and target).
    task : brainlearn.models.eprop.tasks.Task
        The task that ran (its ``params.steps`` per sequence).
    history : pandas.DataFrame
        The loss per iteration so far.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = result.records
    steps = task.params.steps
    n_seq = len(rec["yhat"]) // steps
    first = (n_seq - 1) * steps
    window = slice(first, first + steps)
    fig, axes = plt.subplots(4, 1, figsize=(7, 8), constrained_layout=True)
    for ax, (ti, ii, label) in zip(axes[:2], ((rec["in_t"], rec["in_i"], "input"),
                                              (rec["rec_t"], rec["rec_i"], "recurrent")),
                                   strict=True):
        keep = ti >= first
        ax.plot(ti[keep] - first, ii[keep], "|", ms=2, color="k")
        ax.set_ylabel(f"{label} neuron")
        ax.set_xlim(0, steps)
    t = np.arange(steps)
    for k in range(task.params.n_out):
        axes[2].plot(t, rec["yhat"][window, k], label=f"readout {k}")
        axes[2].plot(t, task.target[window, k], "--", label=f"target {k}")
    axes[2].set_xlabel("time step (ms) in the last sequence")
    axes[2].set_ylabel("readout")
    axes[2].legend(fontsize=7, ncol=2)
    axes[3].plot(history["iteration"], history["loss"], label="loss")
    if "error" in history:
        axes[3].plot(history["iteration"], history["error"], label="error")
    axes[3].set_xlabel("iteration")
    axes[3].legend(fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return Path(path)
