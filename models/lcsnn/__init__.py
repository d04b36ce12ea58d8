"""The locally connected spiking network (LC-SNN) of Saunders et al. (2019).

D. J. Saunders, D. Patel, H. Hazan, H. T. Siegelmann, R. Kozma (2019), Locally connected
spiking neural networks for unsupervised feature learning, Neural Networks 119:332-340.

Registered in the model registry as ``lcsnn`` (:mod:`brainlearn.models.lcsnn.spec`):
``brainlearn demo --model lcsnn``, ``brainlearn compare``, ``sweep`` and ``predict`` reach it
through the model contract. The network is :mod:`~brainlearn.models.lcsnn.model`, the chunked
presentation loop :mod:`~brainlearn.models.lcsnn.network`, training and evaluation of run
directories :mod:`~brainlearn.models.lcsnn.training` (the evaluation's chunks, kept as
they finish and shared among workers, :mod:`~brainlearn.models.lcsnn.evaluation`), the readouts (vote, the paper's n-gram,
logistic, online) :mod:`~brainlearn.models.lcsnn.readouts`, the estimator
:class:`LCSNNClassifier`.

>>> from brainlearn.models.lcsnn import LCSNNParams
>>> LCSNNParams.paper(100).n_neurons, LCSNNParams.paper(100).n_synapses
(900, 129600)
"""

import importlib

__all__ = ["LCSNNParams", "LCSNNClassifier", "NgramReadout", "READOUTS", "PAPER_SIZES",
           "CITATION", "receptive_fields", "train", "evaluate"]

# imported on first use, so that the registry's spec module stays light (no Brian2)
_WHERE = {"LCSNNClassifier": "estimator", "LCSNNParams": "model", "PAPER_SIZES": "model",
          "CITATION": "model", "receptive_fields": "model", "NgramReadout": "readouts",
          "READOUTS": "readouts", "train": "training", "evaluate": "training"}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
