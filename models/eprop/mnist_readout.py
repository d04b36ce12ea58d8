"""The e-prop readout of a finished Diehl & Cook run (``brainlearn eprop mnist-readout``).

:func:`evaluate_run` trains an :class:`~brainlearn.models.eprop.readout.EpropReadout` on the
spike trains a Diehl & Cook run recorded of its label-assignment images, scores it on those
of its test images, merges the result into the run's ``metrics.json`` and saves the readout
into the run directory, where :func:`load_run` (and ``EpropReadout.load``) finds it.
"""

from __future__ import annotations

from pathlib import Path

from brainlearn import rundir
from brainlearn.models.eprop.readout import EpropReadout
from brainlearn.models.eprop.trains import recorded_trains

__all__ = ["MNIST_CLASSES", "BUILD_DIR", "evaluate_run", "load_run"]

#: readout neurons for MNIST: one per digit, whichever digits the assignment images hold
MNIST_CLASSES = 10
#: the standalone builds of the readout, inside the run directory
BUILD_DIR = "build_eprop_readout"


def evaluate_run(run_dir: str | Path, **kwargs) -> dict:
    """Train an :class:`EpropReadout` on an evaluated Diehl & Cook run, score the test images.

    The readout trains on the recorded spike trains of the label-assignment (training)
    images and is scored on those of the test images (:func:`recorded_trains`). Merges
    ``accuracy_eprop``, ``eprop_readout_seconds``, ``eprop_input`` (``"recorded spike
    timing"``), ``eprop_steps`` and ``eprop_step_ms`` (recorded time per readout step) into
    the run's ``metrics.json``; the ``brainlearn compare`` table shows it beside the vote,
    logistic and delta-rule readouts. The fitted readout is saved into the run directory
    (:meth:`EpropReadout.save`).

    Parameters
    ----------
    run_dir : path
        An evaluated Diehl & Cook run directory.
    **kwargs
        Passed to :class:`EpropReadout` (default ``n_classes`` 10; a ``cpp_standalone``
        readout builds under ``RUN/build_eprop_readout`` unless ``directory`` is given).
    """
    run_dir = rundir.open_run(run_dir)
    kwargs.setdefault("n_classes", MNIST_CLASSES)
    if kwargs.get("device") == "cpp_standalone" and kwargs.get("directory") is None:
        kwargs["directory"] = run_dir / BUILD_DIR
    model = EpropReadout(**kwargs)
    train_x, train_y = recorded_trains(run_dir, "assign", model.steps)
    test_x, test_y = recorded_trains(run_dir, "test", model.steps)
    window = rundir.read_window_spikes(run_dir, "test")[1]["window"]
    model.fit(train_x, train_y)
    accuracy = model.score(test_x, test_y)
    model.save(run_dir)
    return rundir.update_metrics(run_dir, {
        "accuracy_eprop": accuracy, "eprop_readout_seconds": round(model.fit_seconds_, 2),
        "eprop_input": "recorded spike timing", "eprop_steps": model.steps,
        "eprop_step_ms": 1000 * window / model.steps,
    })


def load_run(run_dir: str | Path) -> EpropReadout:
    """The fitted e-prop readout saved in a run directory (see :func:`evaluate_run`).

    It classifies spike trains ``(images, steps, neurons)`` of that run's network, e.g. the
    recorded test trains: ``load_run(RUN).predict(recorded_trains(RUN, "test", steps)[0])``.
    """
    return EpropReadout.load(rundir.open_run(run_dir))
