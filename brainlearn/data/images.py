"""The user's own images as MNIST-like pixel rows: a ``.npy`` array or a folder of PNG files.

Every model that classifies images reads them here: :func:`read_images` gives names and pixel
rows ``(n, 784)`` with values 0-255, a light digit on a dark background as in MNIST;
:func:`check_images` checks arrays a Python user passes to an estimator. Errors name what was
given (shape, range, file) in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["INVERT", "check_images", "invert_images", "read_images"]


def check_images(X, name: str = "X") -> np.ndarray:
    """Pixel rows ``(n, 784)`` (float64) of images ``(n, 28, 28)`` or ``(n, 784)``, 0-255.

    Raises ``ValueError`` naming what was given: another shape, values outside 0-255 or not
    finite, or images that look scaled to 0-1 (the network expects MNIST's 0-255: a 0-1 image
    is almost black to it).
    """
    arr = np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric pixel values, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 3 and arr.shape[1:] == (28, 28):
        arr = arr.reshape(len(arr), 784)
    if arr.ndim != 2 or arr.shape[1] != 784 or len(arr) == 0:
        raise ValueError(f"{name} must be images of shape (n, 28, 28) or (n, 784), got shape "
                         f"{np.shape(X)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold pixel values 0-255, got {int((~np.isfinite(arr)).sum())}"
                         " NaN or infinite value(s)")
    if arr.min() < 0 or arr.max() > 255:
        raise ValueError(f"{name} must hold pixel values 0-255, got values from "
                         f"{arr.min():g} to {arr.max():g}")
    if 0 < arr.max() <= 1:
        raise ValueError(f"{name} looks scaled to 0-1 (largest value {arr.max():g}); give pixel "
                         f"values 0-255 like MNIST ({name} * 255)")
    return arr


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


