"""The Diehl & Cook (2015) network: training and evaluation in chunks with checkpoints, and
:class:`DiehlCookClassifier`, the trained network as a scikit-learn classifier.

The network and the paper's parameters are in :mod:`brainlearn.models.diehl_cook.model`. A run directory holds everything of one run: ``config.json``
(:class:`TrainConfig`), ``checkpoint.npz`` (:class:`Checkpoint`, atomic, written after every
chunk), ``metrics.json``, ``weights.npz`` (final input weights and theta), the evaluation
spike counts and spikes, and the figures.

=================  ============================================================================
module             contents
=================  ============================================================================
``config``         :class:`TrainConfig` (``config.json``), images, parameters, chunk seeds
``state``          :class:`NetworkState` (with units), the state carried from run to run
``network``        :func:`make_sim` (:class:`CompiledNetwork`) and :func:`present_chunk`
                   (one run over a chunk of images: :class:`ChunkResult`)
``training``       :func:`train` (checkpointed and resumable), :func:`write_untrained_run`
``passes``         a snapshot after every training pass, scored cheaply (``passes.csv``)
``evaluation``     :func:`evaluate`: frozen passes in chunks and the readouts; the pieces
                   the sharded evaluation shares (:func:`open_evaluation`,
                   :func:`frozen_chunks`, :func:`merge_chunks`, :func:`finish_evaluation`)
``sharded``        :func:`evaluate_sharded` on Dask (imported on use: it needs Dask)
``tune``           :func:`~brainlearn.models.diehl_cook.tune.tune`: theta_plus chosen on
                   held-out training images (imported on use)
``estimator``      :class:`DiehlCookClassifier`: ``fit``/``predict``/``score``/``save``/``load``
``frozen``         :class:`FrozenNetwork`: trained weights, compiled once, run on any images
``predict``        :func:`~brainlearn.models.diehl_cook.predict.predict_images`: ``brainlearn
                   mnist predict`` (images from a ``.npy`` file or a PNG folder)
``runs``           what the ``mnist`` and ``demo`` commands call: ``train_run``,
                   ``evaluate_run``, ``demo``
``spec``           the model's entry in :data:`brainlearn.models.MODELS`
``model``          the network and the paper's parameters (:class:`DiehlCookParams`)
``plots``          :func:`plot_run`: the figures of a run directory
``reproduce``      :func:`~brainlearn.models.diehl_cook.reproduce.reproduce`: the paper's
                   Table 1 (imported on use)
=================  ============================================================================
"""

from brainlearn.data.images import check_images
from brainlearn.models.diehl_cook.config import (
    DEFAULT_CHUNK,
    TrainConfig,
    chunk_seed,
    load_images,
    load_npz,
    read_run_config,
    run_params,
)
from brainlearn.models.diehl_cook.estimator import DiehlCookClassifier
from brainlearn.models.diehl_cook.evaluation import (
    ONLINE_EPOCHS,
    READOUTS,
    ChunkPart,
    Evaluation,
    PassRecord,
    check_readouts,
    evaluate,
    finish_evaluation,
    frozen_chunks,
    merge_chunks,
    open_evaluation,
    window_mask,
    window_spikes,
)
from brainlearn.models.diehl_cook.frozen import FrozenNetwork
from brainlearn.models.diehl_cook.network import (
    ChunkResult,
    CompiledNetwork,
    StopOnSigterm,
    make_sim,
    present_chunk,
)
from brainlearn.models.diehl_cook.state import (
    PENDING_COUNTS,
    ControllerState,
    NetworkState,
    frozen_state,
    initial_state,
)
from brainlearn.models.diehl_cook.training import (
    Checkpoint,
    TrainProgress,
    train,
    write_profile,
    write_untrained_run,
)

__all__ = [
    "DEFAULT_CHUNK", "TrainConfig", "chunk_seed", "load_images", "load_npz", "read_run_config",
    "run_params", "ONLINE_EPOCHS", "READOUTS", "ChunkPart", "Evaluation", "PassRecord",
    "check_readouts", "evaluate", "finish_evaluation", "frozen_chunks", "merge_chunks",
    "open_evaluation", "window_mask", "window_spikes", "ChunkResult", "CompiledNetwork",
    "StopOnSigterm", "make_sim", "present_chunk", "PENDING_COUNTS", "ControllerState",
    "NetworkState", "frozen_state", "initial_state", "Checkpoint", "TrainProgress", "train",
    "write_untrained_run", "write_profile", "DiehlCookClassifier", "check_images",
    "FrozenNetwork",
]
