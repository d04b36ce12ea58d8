"""Classify one's own images with a trained run: ``brainlearn mnist predict``.

:func:`brainlearn.data.images.read_images` reads a ``.npy`` array or a folder of PNG files as
MNIST-like images (28x28, 0-255, white digit on black); :func:`predict_images` runs them through the frozen
network of a run directory (:class:`~brainlearn.models.diehl_cook.DiehlCookClassifier`) and
writes one CSV row per image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path
from brainlearn.data.images import INVERT, invert_images, read_images

__all__ = ["INVERT", "read_images", "invert_images", "predict_images"]

def predict_images(run_dir: str | Path, images: str | Path, out: str | Path, *,
                   invert: str = "auto", device: str | None = None,
                   progress: bool = True) -> pd.DataFrame:
    """Classify the images of ``images`` with the trained run ``run_dir``; write ``out``.

    Reads and checks the images and the run first, then runs the frozen network once over
    all images and writes ``out`` atomically (a failure leaves no file): one row per image
    with ``image`` (row index or file name), ``label`` (the paper's vote) and
    ``spikes_<class>`` (spikes of the neurons assigned to each class).

    Parameters
    ----------
    run_dir : path
        A run directory of ``brainlearn mnist train`` + ``evaluate``, or of
        :meth:`DiehlCookClassifier.save`.
    images : path
        A ``.npy`` array or a folder of PNG files (:func:`read_images`).
    out : path
        The CSV file to write.
    invert : str
        ``auto``, ``yes`` or ``no`` (:func:`invert_images`).
    device : str, optional
        Brian2 device instead of the run's.
    progress : bool
        Progress bar.

    Returns
    -------
    pandas.DataFrame
        The table written.
    """
    from brainlearn.models.diehl_cook.estimator import DiehlCookClassifier

    names, pixels = read_images(images, invert)
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"--out {out} is a directory; give a file name such as "
                         f"{out / 'predictions.csv'}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--out {out}: folder {out.parent} does not exist")
    with DiehlCookClassifier.load(run_dir, device=device, progress=progress) as model:
        labels, spikes = model.predict_with_spikes(pixels)
        classes = model.classes_
    table = pd.DataFrame({"image": names, "label": labels})
    for c, name in enumerate(classes):
        table[f"spikes_{name}"] = spikes[:, c].astype(np.int64)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    return table
