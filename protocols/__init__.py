"""brainlearn.protocols: biological plasticity protocols scored against published data.

``Protocol`` + ``run_protocol`` (the engine: every protocol on its own synapse, one Brian2
run), ``load_dataset``/``dataset_protocols`` (bundled data with sources), ``score`` and
``fit_rule`` (E of Pfister & Gerstner 2006), the experiments ``bi_poo``, ``sjostrom``,
``song`` and named rule configurations (``make_rule``). Importing the package registers its
sweep experiments (``protocol``, ``bi_poo``, ``song``: :mod:`brainlearn.protocols.sweep_tasks`).
"""

from brainlearn.protocols import sweep_tasks  # noqa: F401  (registers the sweep experiments)
from brainlearn.protocols.datasets import DATASETS, dataset_protocols, list_datasets, load_dataset
from brainlearn.protocols.engine import PopulationRun, Protocol, auto_dt, run_protocol
from brainlearn.protocols.experiments import (
    SongResult,
    WindowResult,
    bi_poo,
    bi_poo_facts,
    bi_poo_protocols,
    clopath_clamp,
    clopath_frequency,
    fit_window,
    froemke_facts,
    gb_frequency,
    gb_stdp_curve,
    nevian_facts,
    sjostrom,
    sjostrom_facts,
    song,
    wittenberg_wang_facts,
)
from brainlearn.protocols.rules import RULE_NAMES, all_rules, make_rule
from brainlearn.protocols.scoring import Fit, Score, fit_error, fit_rule, score, score_together

__all__ = [
    "Protocol", "run_protocol", "auto_dt", "PopulationRun",
    "DATASETS", "load_dataset", "dataset_protocols", "list_datasets",
    "Score", "Fit", "fit_error", "score", "score_together", "fit_rule",
    "WindowResult", "bi_poo", "fit_window", "sjostrom", "sjostrom_facts", "SongResult", "song",
    "clopath_frequency", "clopath_clamp", "gb_stdp_curve", "gb_frequency",
    "wittenberg_wang_facts", "froemke_facts", "nevian_facts", "bi_poo_facts", "bi_poo_protocols",
    "RULE_NAMES", "make_rule", "all_rules",
]
