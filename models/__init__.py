"""Every trainable system of brainlearn, found by its name.

:data:`MODELS` maps each name to a :class:`~brainlearn.models.contract.ModelSpec`: the callables
that train a run directory, evaluate one, give its rows of the comparison table, run its
embedded demo, load it as a fitted estimator and run it as a sweep task
(:mod:`brainlearn.models.contract`). ``brainlearn models list``, ``compare``, ``sweep``,
``predict`` and ``demo --model`` loop over it. Importing this package imports no simulator;
the first use of :data:`MODELS` imports the spec modules listed in :data:`BUILTIN_SPECS`.

Adding a model takes one package with a ``spec.py`` that calls
:func:`~brainlearn.models.contract.register_model`, and one line in :data:`BUILTIN_SPECS`
(or, outside brainlearn, an import of your own spec module).

>>> from brainlearn.models import MODELS, models_table
>>> MODELS["diehl-cook-2015"].family
'STDP'
>>> models_table()[["name", "family"]]          # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd

from brainlearn.models.contract import (
    MODELS,
    ModelSpec,
    comparison_rows,
    get_model,
    lazy,
    model_of,
    models_of,
    register_model,
    unregister_model,
)

__all__ = ["BUILTIN_SPECS", "MODELS", "ModelSpec", "register_model", "unregister_model",
           "get_model", "model_of", "models_of", "comparison_rows", "lazy", "models_table",
           "compare_runs", "register_experiments", "predict_run"]

#: the spec module of every built-in model, in the order of the comparison table
BUILTIN_SPECS: tuple[str, ...] = (
    "brainlearn.models.diehl_cook.spec",
    "brainlearn.models.conversion.spec",
    "brainlearn.models.surrogate.spec",
    "brainlearn.models.eprop.spec",
    "brainlearn.models.hybrid.spec",
    "brainlearn.models.lcsnn.spec",
)


def register_experiments() -> None:
    """Register every model's sweep task (the ``brainlearn.experiments`` entry point)."""
    MODELS.load_builtin()


def models_table() -> pd.DataFrame:
    """The registry as a table: ``name, family, title, citation, module, local_online,
    commands, embedded, sweep`` (commands of one model joined by ``" && "``)."""
    return pd.DataFrame([{
        "name": m.name, "family": m.family, "title": m.title, "citation": m.citation,
        "module": m.module, "local_online": m.local_online,
        "commands": " && ".join(m.commands), "embedded": " && ".join(m.embedded),
        "sweep": m.sweep.name if m.sweep is not None else "",
    } for m in MODELS.values()])


def compare_runs(run_dirs, pixel_baseline: str | None = None) -> pd.DataFrame:
    """The comparison table of run directories: every registered model's rows for each.

    Parameters
    ----------
    run_dirs : path or iterable of paths
        Evaluated run directories of any registered model, in the order of the rows.
    pixel_baseline : str, optional
        ``"full"`` or ``"embedded"``: add logistic regression on the raw pixels of that MNIST
        (:func:`brainlearn.analysis.compare.pixel_baseline_row`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`brainlearn.analysis.compare.COLUMNS`.
    """
    from pathlib import Path

    from brainlearn.analysis.compare import comparison_table, pixel_baseline_row

    if isinstance(run_dirs, str | Path):
        run_dirs = [run_dirs]
    rows = comparison_rows(run_dirs or [])
    if pixel_baseline is not None:
        rows.append(pixel_baseline_row(pixel_baseline))
    return comparison_table(rows)


def predict_run(run_dir, images, out, *, invert: str = "auto"):
    """Classify one's own images with any registered model's trained run directory.

    The run's model (:func:`~brainlearn.models.contract.model_of`) loads it as a fitted
    estimator (its spec's ``load``) and predicts the images; ``out`` gets one CSV row per
    image (``image``: row index or file name, ``label``), written atomically, so a failure
    leaves no file.

    Parameters
    ----------
    run_dir : path
        A trained (and, where the model needs it, evaluated) run directory.
    images : path
        A ``.npy`` array of 28x28 images 0-255 or a folder of PNG files
        (:func:`brainlearn.data.images.read_images`).
    out : path
        The CSV file to write.
    invert : str
        ``auto``, ``yes`` or ``no``: dark-on-light images become MNIST's light-on-dark.

    Returns
    -------
    pandas.DataFrame
        The table written.
    """
    from pathlib import Path

    import numpy as np

    from brainlearn.atomic import atomic_path
    from brainlearn.data.images import read_images

    spec = model_of(run_dir)
    if spec.load is None:
        raise ValueError(f"{run_dir}: model {spec.name!r} has no estimator to predict with")
    names, pixels = read_images(images, invert)
    out = Path(out)
    if out.is_dir() or not out.parent.is_dir():
        raise ValueError(f"--out {out}: give a file name in an existing folder")
    model = spec.load(run_dir)
    labels = model.predict(np.rint(pixels).astype(np.uint8))
    table = pd.DataFrame({"image": names, "label": labels})
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    return table
