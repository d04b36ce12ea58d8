"""Figures of a surrogate-gradient run."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_history"]


def plot_history(history: pd.DataFrame, title: str = ""):
    """Accuracy per epoch (train and, if recorded, test) as a matplotlib ``Figure``."""
    from brainlearn.analysis.plots import new_figure

    fig = new_figure(6.0, 3.6)
    ax = fig.add_subplot()
    epochs = history["epoch"].to_numpy()
    ax.plot(epochs, 100 * history["train_accuracy"].to_numpy(), "o-", ms=3, label="train")
    if "test_accuracy" in history and history["test_accuracy"].notna().any():
        test = 100 * history["test_accuracy"].to_numpy()
        best = int(np.nanargmax(test))
        ax.plot(epochs, test, "o-", ms=3,
                label=f"test (best {test[best]:.2f} % at epoch {epochs[best]})")
        ax.plot(epochs[best], test[best], "k*", ms=9)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig
