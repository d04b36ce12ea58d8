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
           "compare_runs", "register_experiments"]

#: the spec module of every built-in model, in the order of the comparison table
BUILTIN_SPECS: tuple[str, ...] = (
    "brainlearn.models.diehl_cook.spec",
    "brainlearn.models.specs",
    "brainlearn.models.eprop.spec",
    "brainlearn.models.surrogate.spec",
    "brainlearn.models.hybrid.spec",
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
