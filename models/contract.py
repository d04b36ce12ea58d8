"""The model contract: what every trainable system of brainlearn answers, in one place.

A model is registered once, as a :class:`ModelSpec` of callables, and everything that works on
"all models" loops over :data:`MODELS`: ``brainlearn models list``, ``brainlearn compare``,
``brainlearn sweep``, ``brainlearn predict`` and ``brainlearn demo --model``. Adding a model
therefore takes one package (with a ``spec.py`` that calls :func:`register_model`) and one
line in ``brainlearn/models/__init__.py`` naming that package; no command and no comparison
code learns about it.

A model answers five questions (the layout sketch's contract):

===============  ============================================================================
field            signature and meaning
===============  ============================================================================
``train``        ``train(run_dir, *, data="full", seed=0, **options) -> dict``: train a run
                 directory (``config.json`` records ``"model": name``); returns metrics
``evaluate``     ``evaluate(run_dir, **options) -> dict``: score a trained run directory
``rows``         ``rows(run_dir) -> list[dict]``: its rows of the comparison table (columns
                 :data:`brainlearn.analysis.compare.COLUMNS`); ``[]`` when the directory holds
                 nothing of this model
``demo``         ``demo(out, *, seed=0) -> dict``: train and evaluate on the embedded data in
                 about a minute
``load``         ``load(run_dir)``: the run directory as a fitted scikit-learn estimator
                 (``predict``, ``score`` on new data)
``sweep``        an :class:`brainlearn.experiments.Experiment`, the model's sweep task
===============  ============================================================================

Spec modules stay light: a spec's callables are small functions that import the simulator only
when called (:func:`lazy` builds one from a ``"module:function"`` path), so
``import brainlearn.models`` imports neither Brian2 nor PyTorch.

>>> from brainlearn.models import MODELS
>>> MODELS["diehl-cook-2015"].family
'STDP'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from brainlearn import rundir
from brainlearn.experiments import Experiment
from brainlearn.experiments import register as register_experiment

__all__ = ["ModelSpec", "MODELS", "lazy", "register_model", "get_model", "model_of",
           "models_of", "comparison_rows", "evaluate_command", "unregister_model", "run_info", "mlp_parameters", "CONFIG_KEY"]

#: the key of ``config.json`` naming the model that wrote the run directory
CONFIG_KEY = "model"


class lazy:  # noqa: N801  (used like a function: lazy("module:function"))
    """A callable that imports ``"package.module:function"`` on first call and forwards to it.

    It keeps spec modules light (nothing heavy is imported until a model is used) and pickles
    by its target path, so a Dask worker resolves it in its own process.

    Parameters
    ----------
    target : str
        ``"brainlearn.models.conversion:train_run"``: module, colon, attribute.
    """

    def __init__(self, target: str) -> None:
        module, sep, name = target.partition(":")
        if not sep or not module or not name:
            raise ValueError(f"lazy target must read 'module:function', got {target!r}")
        self.target = target

    def resolve(self) -> Callable:
        """The target function itself (imports its module)."""
        module, _, name = self.target.partition(":")
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"lazy({self.target!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, lazy) and other.target == self.target

    def __hash__(self) -> int:
        return hash(self.target)


def _no_rows(run_dir: Path) -> list[dict]:
    return []


@dataclass(frozen=True)
class ModelSpec:
    """One trainable system: what it is, and the callables that train, score and use it.

    Attributes
    ----------
    name : str
        Registry name (``brainlearn models list`` shows it first), e.g. ``"diehl-cook-2015"``.
    title : str
        One line: the network and how it learns.
    family : str
        ``"STDP"``, ``"ANN-to-SNN conversion"``, ``"surrogate gradient"``, ``"e-prop"``, ...
    citation : str
        The paper (or tutorial) reproduced.
    train : callable
        ``train(run_dir, *, data="full", seed=0, **options) -> dict``.
    evaluate : callable
        ``evaluate(run_dir, **options) -> dict``.
    rows : callable
        ``rows(run_dir) -> list[dict]``, the comparison rows (``[]`` if none).
    demo : callable, optional
        ``demo(out, *, seed=0) -> dict`` on the embedded data.
    load : callable, optional
        ``load(run_dir)`` -> a fitted estimator with ``predict`` and ``score``.
    sweep : Experiment, optional
        The model's sweep task (registered with :mod:`brainlearn.experiments`).
    owns : callable, optional
        ``owns(run_dir) -> bool``: whether the directory holds this model's results. Default:
        ``config.json`` names this model under :data:`CONFIG_KEY`.
    commands : tuple of str
        Example command lines (documentation only: nothing runs them).
    embedded : tuple of str
        The same on the embedded subset.
    local_online : bool
        Whether learning is local in space and online in time.
    """

    name: str
    title: str
    family: str
    citation: str
    train: Callable[..., dict]
    evaluate: Callable[..., dict]
    rows: Callable[[Path], list[dict]] = _no_rows
    demo: Callable[..., dict] | None = None
    load: Callable[[Path], object] | None = None
    sweep: Experiment | None = None
    owns: Callable[[Path], bool] | None = None
    commands: tuple[str, ...] = ()
    embedded: tuple[str, ...] = ()
    local_online: bool = False
    module: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name in ("train", "evaluate", "rows"):
            if not callable(getattr(self, name)):
                raise TypeError(f"model {self.name!r}: {name} must be callable, "
                                f"got {getattr(self, name)!r}")
        for name in ("demo", "load", "owns"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"model {self.name!r}: {name} must be callable or None, "
                                f"got {value!r}")
        if self.sweep is not None and not isinstance(self.sweep, Experiment):
            raise TypeError(f"model {self.name!r}: sweep must be a "
                            f"brainlearn.experiments.Experiment, got {self.sweep!r}")

    def holds(self, run_dir: str | Path) -> bool:
        """Whether ``run_dir`` holds this model's results (``owns``, else ``config.json``)."""
        run_dir = Path(run_dir)
        if rundir.read_config(run_dir).get(CONFIG_KEY) == self.name:
            return True
        return bool(self.owns(run_dir)) if self.owns is not None else False


class _Registry(dict):
    """``name -> ModelSpec``; the built-in models' spec modules load on first use.

    The built-in list is ``brainlearn.models.BUILTIN_SPECS``. Loading them imports the model
    packages (Brian2 with them), so ``import brainlearn.models`` alone stays light.
    """

    _loading = False
    _loaded = False

    def load_builtin(self) -> None:
        """Import every built-in spec module once (each registers its model)."""
        if _Registry._loaded or _Registry._loading:
            return
        _Registry._loading = True
        try:
            for module in importlib.import_module("brainlearn.models").BUILTIN_SPECS:
                importlib.import_module(module)
            _Registry._loaded = True
        finally:
            _Registry._loading = False

    def __getitem__(self, key):
        self.load_builtin()
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self.load_builtin()
        return super().__contains__(key)

    def __iter__(self):
        self.load_builtin()
        return super().__iter__()

    def __len__(self) -> int:
        self.load_builtin()
        return super().__len__()

    def get(self, key, default=None):
        self.load_builtin()
        return super().get(key, default)

    def keys(self):
        self.load_builtin()
        return super().keys()

    def values(self):
        self.load_builtin()
        return super().values()

    def items(self):
        self.load_builtin()
        return super().items()

    def __repr__(self) -> str:
        self.load_builtin()
        return f"MODELS({', '.join(super().keys())})"


#: name -> ModelSpec, in registration order (the order of the comparison table's rows)
MODELS: dict[str, ModelSpec] = _Registry()


def run_info(run_dir: str | Path) -> dict:
    """``config.json`` with ``metrics.json`` over it (older runs kept results in the config)."""
    return {**rundir.read_config(run_dir, required=True), **rundir.read_metrics(run_dir)}


def mlp_parameters(sizes) -> int:
    """Weights and biases of a fully connected network with layer ``sizes`` (784, ..., 10)."""
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True)))


def unregister_model(name: str) -> None:
    """Remove a model (and its sweep task) from the registries; unknown names are ignored."""
    from brainlearn.experiments import EXPERIMENTS

    spec = dict.pop(MODELS, name, None)
    if spec is not None and spec.sweep is not None:
        EXPERIMENTS.pop(spec.sweep.name, None)


def register_model(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add ``spec`` to :data:`MODELS` (and its sweep task to the experiment registry).

    Parameters
    ----------
    spec : ModelSpec
        The model.
    replace : bool
        Allow replacing a model of the same name (e.g. re-importing a spec module);
        otherwise a second model under one name is an error.

    Returns
    -------
    ModelSpec
        ``spec``, so that a spec module can write ``SPEC = register_model(ModelSpec(...))``.
    """
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"register_model takes a ModelSpec, got {type(spec).__name__}")
    MODELS.load_builtin()
    old = dict.get(MODELS, spec.name)
    if old is not None and old != spec and not replace:
        raise ValueError(f"a model named {spec.name!r} is registered already")
    dict.__setitem__(MODELS, spec.name, spec)
    if spec.sweep is not None:
        task = spec.sweep
        register_experiment(task.name, task.description, task.params)(task.fn)
    return spec


def get_model(name: str) -> ModelSpec:
    """The registered model ``name`` (one-line ValueError listing the names if unknown)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name]


def models_of(run_dir: str | Path) -> list[ModelSpec]:
    """Every registered model whose results ``run_dir`` holds, in registration order."""
    root = rundir.open_run(run_dir)
    return [spec for spec in MODELS.values() if spec.holds(root)]


def model_of(run_dir: str | Path) -> ModelSpec:
    """The model that wrote ``run_dir``: ``config.json``'s model, else the first that owns it."""
    root = rundir.open_run(run_dir)
    name = rundir.read_config(root).get(CONFIG_KEY)
    if name is not None:
        return get_model(name)
    found = models_of(root)
    if not found:
        raise ValueError(f"{run_dir}: no registered model recognises this run directory "
                         f"(models: {', '.join(MODELS)})")
    return found[0]


def evaluate_command(run_dir: str | Path) -> str | None:
    """The command that evaluates the run in ``run_dir``: its model's example command line
    with ``evaluate`` in it (:attr:`ModelSpec.commands`), for this directory; None when the
    run's model is unknown or names none."""
    try:
        spec = model_of(run_dir)
    except (ValueError, OSError):
        return None
    for line in spec.commands:
        words = line.split()
        if "evaluate" in words[:3]:
            at = words.index("evaluate") + 1
            if at < len(words) and not words[at].startswith("-"):  # the run: this one
                return " ".join([*words[:at], str(run_dir)])
            return line
    return None


def comparison_rows(run_dirs: Iterable[str | Path]) -> list[dict]:
    """The comparison rows of run directories, from every model that holds results there.

    A directory may hold several models' results (a Diehl & Cook run with its e-prop readout);
    a direct subdirectory that is a run directory of its own (``RUN/hybrid``) adds its rows
    after its parent's.

    Raises
    ------
    ValueError
        A directory no model recognises, or one a model says is not evaluated yet.
    """
    rows: list[dict] = []
    for run in run_dirs:
        root = rundir.open_run(run)
        specs = models_of(root)
        children = [child for child in sorted(root.iterdir())
                    if child.is_dir() and (child / rundir.CONFIG).exists()
                    and models_of(child)]
        if not specs and not children:
            raise ValueError(f"{run}: no registered model recognises this run directory "
                             f"(models: {', '.join(MODELS)})")
        for where in (root, *children):
            for spec in (specs if where is root else models_of(where)):
                rows += [{**row, CONFIG_KEY: row.get(CONFIG_KEY, spec.name)}
                         for row in spec.rows(where)]
    return rows
