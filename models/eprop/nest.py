"""e-prop in Brian2 against NEST: the test protocols of NEST's e-prop models, loss by loss.

NEST's test suite (nest-simulator, ``testsuite/pytests/synapses/
test_eprop_bsshslm_2020_plasticity.py``) trains its ``*_bsshslm_2020`` models on three short
protocols and asserts the loss of every iteration; :func:`nest_comparison` runs the same
protocols (:mod:`brainlearn.models.eprop.tasks`, same seed, inputs, weights and parameters) in
Brian2 and tabulates its losses beside NEST's and the authors' TensorFlow losses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["NEST_LOSSES", "TF_LOSSES", "NEST_SEED", "nest_comparison", "write_comparison",
           "largest_difference", "validation_rows", "append_validation", "NEST_MODELS"]

#: NEST's models behind each generation (the "validated against NEST" table names them)
NEST_MODELS = {
    "bsshslm_2020": "eprop_iaf_bsshslm_2020, eprop_iaf_adapt_bsshslm_2020, "
                    "eprop_readout_bsshslm_2020, eprop_synapse_bsshslm_2020",
    "2023": "eprop_iaf, eprop_iaf_adapt, eprop_readout, eprop_synapse",
}

#: the seed of numpy's legacy generator in NEST's test (inputs, targets and initial weights)
NEST_SEED = 1

#: losses per iteration asserted by NEST's test suite (nest-simulator,
#: testsuite/pytests/synapses/test_eprop_bsshslm_2020_plasticity.py; "NEST reference losses",
#: NEST@3304c6b5c)
NEST_LOSSES = {
    "sine-waves": [101.964356999041, 103.466731126205, 103.340607074771, 103.680244037686,
                   104.412775748752],
    "evidence-accumulation": [0.741152550006, 0.740388187700, 0.665785233177, 0.663644193322,
                              0.729428962844],
    "evidence-accumulation-batch2": [0.702163370672, 0.735555303152, 0.740354864111,
                                     0.683882815282, 0.707841122268],
}
#: the authors' TensorFlow losses quoted by the same NEST tests (INM6/eligibility_propagation)
TF_LOSSES = {
    "sine-waves": [101.964363098144, 103.466735839843, 103.340606689453, 103.680244445800,
                   104.412780761718],
    "evidence-accumulation": [0.741152524948, 0.740388214588, 0.665785133838, 0.663644134998,
                              0.729429066181],
}


def nest_comparison(device_name: str = "runtime", directory: str | Path | None = None,
                    protocols: tuple[str, ...] | None = None, *, seed: int = NEST_SEED,
                    iterations: int | None = None, live: bool = False,
                    generation: str = "bsshslm_2020") -> pd.DataFrame:
    """Run NEST's e-prop test protocols in Brian2; loss per iteration beside NEST's.

    The loss of iteration ``n`` is the one NEST's test computes from the readout signal
    ``y_k[t]`` (``pi_k[t] = softmax(y[t])_k`` for classification) and the target ``y*_k[t]``:

    * sine-wave regression (mean squared error), over the ``T`` steps of sequence ``n``::

          loss_n = 1/2 sum_t sum_k (y_k[t] - y*_k[t])^2

      (NEST: ``0.5 * np.add.reduceat(error, np.arange(0, steps_task, steps_sequence))``);
    * evidence accumulation (cross entropy), over the ``T_w`` steps of the learning window
      (the recall, the last 150 ms) and the ``B`` sequences of batch ``n``::

          loss_n = -1/B sum_b 1/T_w sum_{t in window} sum_k pi*_k[t] log pi_k[t]

    The defaults are NEST's protocols exactly (seed 1, five iterations); another ``seed`` or
    more ``iterations`` train the same protocol on other draws or for longer, and leave the
    reference columns empty (NaN) where NEST asserts no loss. With ``live=True`` NEST itself
    (:func:`brainlearn.models.eprop.nest_live.nest_losses`) simulates the same task, and the
    ``nest`` column holds its losses at any seed and iteration count.

    Parameters
    ----------
    device_name : str
        ``"runtime"`` or ``"cpp_standalone"``.
    directory : path, optional
        Parent of the standalone build directories (one per protocol).
    protocols : tuple of str, optional
        Keys of :data:`NEST_LOSSES` (``"evidence-accumulation-batch2"``: batch size 2; default
        all), or with ``generation="2023"`` of
        :data:`brainlearn.models.eprop.gen2023.PROTOCOLS_2023`.
    seed : int
        Seed of numpy's legacy generator for weights, inputs and targets (NEST's: 1).
    iterations : int, optional
        Weight updates per protocol (default: as many as NEST asserts, 5).
    live : bool
        Run NEST (``pip install "brainlearn[nest]"``) instead of quoting its asserted losses.
    generation : str
        ``"bsshslm_2020"`` (NEST's ``*_bsshslm_2020`` models) or ``"2023"`` (``eprop_iaf``,
        ``eprop_iaf_adapt``, ``eprop_readout``: :func:`brainlearn.models.eprop.gen2023.comparison_2023`).

    Returns
    -------
    pandas.DataFrame
        ``protocol, iteration, brian2, nest, tensorflow, rel_diff_nest`` (relative difference
        ``brian2 / nest - 1``) and ``wall_seconds`` (the protocol's simulation).
    """
    from brainlearn.models.eprop.nest_live import nest_losses, require_nest
    from brainlearn.models.eprop.network import run_sequences
    from brainlearn.models.eprop.tasks import evidence_accumulation, sine_waves

    if generation == "2023":
        from brainlearn.models.eprop.gen2023 import comparison_2023

        return comparison_2023(protocols, seed=seed, iterations=iterations, live=live)
    if generation != "bsshslm_2020":
        raise ValueError(f"generation must be 'bsshslm_2020' or '2023', got {generation!r}")
    protocols = tuple(NEST_LOSSES) if protocols is None else tuple(protocols)
    unknown = [name for name in protocols if name not in NEST_LOSSES]
    if unknown:
        raise ValueError(f"protocols must be among {sorted(NEST_LOSSES)}, got {unknown}")
    if iterations is not None and int(iterations) < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    if live:
        require_nest()
    rows = []
    for name in protocols:
        n_iter = len(NEST_LOSSES[name]) if iterations is None else int(iterations)
        if name == "sine-waves":
            task = sine_waves(n_iter, seed=seed)
        else:
            task = evidence_accumulation(n_iter, batch_size=2 if name.endswith("batch2") else 1,
                                         seed=seed)
        build = None if directory is None else f"{directory}/{name}"
        result = run_sequences(task.params, task.weights, task.stim, task.target,
                               device_name=device_name, directory=build, record=False)
        loss = result.loss.reshape(n_iter, -1).mean(axis=1)
        if live:
            nest = nest_losses(task, "bsshslm_2020")
        else:
            nest = _reference(NEST_LOSSES[name], n_iter, seed)
        tf = _reference(TF_LOSSES.get(name, []), n_iter, seed)
        for k in range(n_iter):
            rows.append({"protocol": name, "iteration": k, "brian2": loss[k],
                         "nest": nest[k], "tensorflow": tf[k],
                         "rel_diff_nest": loss[k] / nest[k] - 1,
                         "wall_seconds": round(result.wall_seconds, 2)})
    return pd.DataFrame(rows)


def _reference(losses: list[float], n_iter: int, seed: int) -> np.ndarray:
    """Reference losses for ``n_iter`` iterations (NaN where none is known for ``seed``)."""
    out = np.full(n_iter, np.nan)
    if seed == NEST_SEED:
        known = min(n_iter, len(losses))
        out[:known] = losses[:known]
    return out


def write_comparison(out: str | Path | None = None, **kwargs) -> tuple[pd.DataFrame, Path | None]:
    """:func:`nest_comparison`, its table written to ``OUT/nest_comparison.csv`` if ``out``.

    Parameters
    ----------
    out : path, optional
        Directory for the table; standalone builds go to ``OUT/build``.
    **kwargs
        Passed to :func:`nest_comparison` (``device_name``, ``seed``, ``iterations``, ...).

    Returns
    -------
    tuple
        The table and the path of the CSV (None without ``out``).
    """
    from brainlearn.atomic import atomic_path

    directory = Path(out) / "build" if out is not None else None
    table = nest_comparison(directory=directory, **kwargs)
    if out is None:
        return table, None
    path = Path(out) / "nest_comparison.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return table, path


def largest_difference(table: pd.DataFrame) -> tuple[float, str]:
    """The largest ``|brian2 / nest - 1|`` of a comparison table, and where it is.

    Returns
    -------
    tuple
        The difference (NaN where the table has no NEST loss) and ``"protocol, iteration n"``.
    """
    diff = (table["brian2"] / table["nest"] - 1).abs()
    if diff.isna().all():
        return float("nan"), "no NEST loss"
    row = table.loc[diff.idxmax()]
    return float(diff.max()), f"{row['protocol']}, iteration {int(row['iteration'])}"


def validation_rows(table: pd.DataFrame, *, generation: str, seed: int,
                    tolerance: float = 1e-10) -> pd.DataFrame:
    """One row per protocol of a live comparison, for the "validated against NEST" table.

    Parameters
    ----------
    table : DataFrame
        A :func:`nest_comparison` table with NEST's live losses.
    generation : str
        ``"bsshslm_2020"`` or ``"2023"``.
    seed : int
        The seed the table was drawn from.
    tolerance : float
        The relative tolerance the tests hold the comparison to.

    Returns
    -------
    pandas.DataFrame
        ``rule, protocol, nest_models, seed, iterations, worst_rel_diff, tolerance, command``.
    """
    rows = []
    for protocol, part in table.groupby("protocol", sort=False):
        worst = float((part["brian2"] / part["nest"] - 1).abs().max())
        rows.append({"rule": f"e-prop ({generation})", "protocol": protocol,
                     "nest_models": NEST_MODELS[generation], "seed": seed,
                     "iterations": len(part), "worst_rel_diff": worst,
                     "tolerance": tolerance,
                     "command": f"brainlearn eprop nest --generation {generation} "
                                f"--seed {seed} --iterations {len(part)}"})
    return pd.DataFrame(rows)


def append_validation(path: str | Path, rows: pd.DataFrame) -> Path:
    """Append ``rows`` to the CSV at ``path`` (created with a header if absent), atomically."""
    from brainlearn.atomic import atomic_path

    path = Path(path)
    table = pd.concat([pd.read_csv(path), rows]) if path.exists() else rows
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path
