"""Classify one's own images with a trained run: ``brainlearn mnist predict``.

:func:`read_images` reads a ``.npy`` array or a folder of PNG files as MNIST-like images
(28x28, 0-255, white digit on black); :func:`predict_images` runs them through the frozen
network of a run directory (:class:`~brainlearn.models.diehl_cook.DiehlCookClassifier`) and
writes one CSV row per image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path
from brainlearn.models.diehl_cook.estimator import check_images

__all__ = ["INVERT", "read_images", "invert_images", "predict_images"]

#: ``invert`` choices: ``auto`` inverts an image whose border is light (a dark digit on a
#: light background), ``yes`` inverts every image, ``no`` none
INVERT = ("auto", "yes", "no")


def invert_images(pixels: np.ndarray, invert: str = "auto") -> np.ndarray:
    """Pixel rows ``(n, 784)`` with dark-on-light images turned into MNIST's light-on-dark.

    ``auto`` inverts (``255 - x``) the images whose 2-pixel border is brighter than mid-grey
    on average (MNIST's border is black); ``yes`` inverts all, ``no`` none.
    """
    if invert not in INVERT:
        raise ValueError(f"invert must be one of {INVERT}, got {invert!r}")
    pixels = np.asarray(pixels, dtype=np.float64)
    if invert == "no":
        return pixels
    if invert == "yes":
        return 255.0 - pixels
    square = pixels.reshape(-1, 28, 28)
    border = np.ones((28, 28), dtype=bool)
    border[2:-2, 2:-2] = False
    light = square[:, border].mean(axis=1) > 127.5
    out = pixels.copy()
    out[light] = 255.0 - out[light]
    return out


def _png(path: Path) -> np.ndarray:
    # one PNG as 28x28 grey values 0-255 (transparency composited onto white)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            rgba = img.convert("RGBA")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path} is not a readable PNG image ({exc})") from None
    width, height = rgba.size
    if width != height:
        raise ValueError(f"{path} is {width}x{height} pixels; give square images (28x28 as in "
                         "MNIST; larger square ones are resized)")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    grey = Image.alpha_composite(background, rgba).convert("L")
    if grey.size != (28, 28):
        grey = grey.resize((28, 28), Image.Resampling.LANCZOS)
    return np.asarray(grey, dtype=np.float64)


def read_images(source: str | Path, invert: str = "auto") -> tuple[list[str], np.ndarray]:
    """The images of ``source`` as names and pixel rows ``(n, 784)``, 0-255, light on dark.

    Parameters
    ----------
    source : path
        A ``.npy`` array of shape ``(n, 28, 28)``, ``(n, 784)`` or ``(28, 28)`` with values
        0-255 (names: the row indices), or a folder of ``.png`` files, grayscale or RGB(A),
        square, resized to 28x28 (names: the file names, sorted).
    invert : str
        ``auto`` (default), ``yes`` or ``no``: see :func:`invert_images`.

    Raises
    ------
    ValueError
        A source that is neither, an array of another shape or range, an unreadable or
        non-square PNG, a folder without PNG files; the message names it.
    """
    if invert not in INVERT:
        raise ValueError(f"invert must be one of {INVERT}, got {invert!r}")
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() == ".png" and p.is_file())
        if not files:
            raise ValueError(f"{source} holds no .png images")
        names = [p.name for p in files]
        pixels = np.stack([_png(p) for p in files]).reshape(len(files), 784)
    elif source.suffix == ".npy" and source.is_file():
        try:
            array = np.load(source, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(f"{source} is not a readable .npy array ({exc})") from None
        if array.ndim == 2 and array.shape == (28, 28):
            array = array[None]
        pixels = check_images(array, name=str(source))
        names = [str(i) for i in range(len(pixels))]
    elif not source.exists():
        raise FileNotFoundError(f"--images {source} does not exist")
    else:
        raise ValueError(f"--images takes a .npy array or a folder of PNG images, got {source}")
    return names, invert_images(check_images(pixels, name=str(source)), invert)


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
