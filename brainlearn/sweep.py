"""Parameter sweeps on Dask: a grid of any registered experiment, run as independent tasks.

``sweep(fn, grid, seeds)`` expands the grid (the product of every parameter's values) times the
seeds into tasks and runs them on a ``dask.distributed`` cluster: by default a LocalCluster
with one single-threaded worker *process* per core (Brian2 state is global per process), or
any existing cluster (``client=Client("tcp://HOST:8786")`` or the address itself).

* Every task runs in its own working directory (``OUT/work/KEY``: standalone builds, run
  directories) and its worker's own Brian2 cython cache (``OUT/cache/WORKER``; tasks on one
  worker run one after another), so concurrent compilations never clash; the device is reset
  after every task.
* Results land in one DataFrame (one row per task, parameters + results + ``status``), keyed
  by ``key``, a hash of the experiment, the parameters and the seed, and written to
  ``OUT/results.parquet`` and ``OUT/results.csv``.
* A task that raises is reported (parameters and traceback, in the table and on stderr) and
  retried once; the sweep goes on. A worker that dies (segfault, OOM) counts as a failure too.
* Every finished task is recorded at once (``OUT/tasks/KEY.json``), so a killed sweep resumes
  with ``resume=True`` (``--resume``), skipping the tasks that finished.

On a SLURM cluster use dask-jobqueue (``pip install dask-jobqueue``)::

    from dask_jobqueue import SLURMCluster
    from dask.distributed import Client
    cluster = SLURMCluster(cores=1, processes=1, memory="4GB", walltime="02:00:00")
    cluster.scale(jobs=64)                  # 64 single-core worker processes
    sweep("protocol", grid, seeds=10, client=Client(cluster), out="runs/sweep")

or start ``dask scheduler`` on a login node, submit ``dask worker tcp://HOST:8786 --nthreads 1``
jobs, and run ``brainlearn sweep spec.yaml --scheduler tcp://HOST:8786``. With a remote
cluster, ``out`` should be on a file system the workers share (their workdirs are there).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.atomic import atomic_path
from brainlearn.standalone import skip_exit_collection

__all__ = ["sweep", "expand_grid", "task_key", "run_task", "load_results", "local_client", "WORKER_CONFIG",
           "Task", "connect_client", "close_client", "worker_name", "signals_from_any_thread"]

#: columns every result row has, before the parameters and the results
META = ("key", "experiment", "seed", "status", "attempts", "error", "traceback",
        "wall_seconds", "worker")


@dataclass(frozen=True)
class Task:
    """One point of the sweep: ``params`` and ``seed``, identified by ``key``."""

    key: str
    params: dict
    seed: int


# --------------------------------------------------------------------------- the grid
def expand_grid(grid: dict | list, seeds: int | list = 1) -> list[tuple[dict, int]]:
    """Expand ``grid`` and ``seeds`` into ``(params, seed)`` pairs, in a fixed order.

    Parameters
    ----------
    grid : dict or list of dict
        ``{name: [values]}`` (the product of all lists; a scalar is a fixed value), or an
        explicit list of parameter dicts.
    seeds : int or list of int
        ``K`` means seeds ``0 .. K-1``; a list gives the seeds themselves.

    Returns
    -------
    list of (dict, int)
        Grid-major order (all seeds of the first point, then the next point).
    """
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds}")
        seed_list = list(range(int(seeds)))
    else:
        seed_list = [int(s) for s in seeds]
        if not seed_list:
            raise ValueError("seeds is empty")
    if isinstance(grid, dict):
        names = list(grid)
        values = [v if isinstance(v, (list, tuple)) else [v] for v in grid.values()]
        for name, vals in zip(names, values, strict=True):
            if len(vals) == 0:
                raise ValueError(f"grid parameter {name!r} has no values")
        points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    elif isinstance(grid, (list, tuple)):
        points = [dict(p) for p in grid]
        if not all(isinstance(p, dict) for p in grid):
            raise ValueError("a grid list must hold parameter dicts")
    else:
        raise ValueError(f"grid must be a dict of value lists or a list of dicts, got {type(grid).__name__}")
    if not points:
        points = [{}]
    return [(_plain(p), s) for p in points for s in seed_list]


def _plain(value):
    """Grid values as plain JSON types (numpy scalars to Python)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _fn_name(fn) -> str:
    if isinstance(fn, str):
        return fn
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"


def task_key(experiment: str, params: dict, seed: int) -> str:
    """The 16-hex-digit key of a task: a hash of the experiment, parameters and seed."""
    blob = json.dumps({"experiment": experiment, "params": _plain(params), "seed": int(seed)},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------- one task
@contextlib.contextmanager
def signals_from_any_thread() -> Iterator[None]:
    """Let code that installs signal handlers (Brian2's import, ``train``'s SIGTERM guard) run
    in a Dask worker's task thread: there ``signal.signal`` raises ValueError, so for the
    task's duration it leaves the handler as it is instead (one task thread per worker).

    In a worker it also calls :func:`brainlearn.standalone.skip_exit_collection`, so the worker
    process ends within its nanny's grace period when the cluster closes."""
    if threading.current_thread() is threading.main_thread():
        yield
        return
    # a worker process that imported Brian2 would outlive its nanny's grace period at close
    skip_exit_collection()
    original = signal.signal

    def keep(signum, handler):
        try:
            return original(signum, handler)
        except ValueError:
            return signal.getsignal(signum)

    signal.signal = keep
    try:
        yield
    finally:
        signal.signal = original


@contextlib.contextmanager
def _brian_isolation(workdir: Path, cache_dir: Path) -> Iterator[None]:
    """Own cython cache and working directory for one task; reset Brian2 afterwards."""
    with signals_from_any_thread():
        from brian2 import defaultclock, prefs

        from brainlearn.devices import use_device
    saved_cache = prefs.codegen.runtime.cython.cache_dir
    saved_dt = defaultclock.dt
    cache_dir.mkdir(parents=True, exist_ok=True)
    prefs.codegen.runtime.cython.cache_dir = str(cache_dir)
    try:
        # the task starts in runtime mode with the worker's code generation target, and
        # whatever device it selects is reset when it ends (use_device restores the target)
        with use_device("runtime", runtime_target=prefs.codegen.target):
            yield
    finally:
        prefs.codegen.runtime.cython.cache_dir = saved_cache
        defaultclock.dt = saved_dt


def worker_name() -> str:
    """A file-name-safe name of the Dask worker running this code (``local`` outside Dask)."""
    try:
        from dask.distributed import get_worker

        name = str(get_worker().name)
    except (ImportError, ValueError):
        return "local"
    return "w" + "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _flatten(result) -> dict:
    """A task's result as one flat row: scalars kept, anything else as JSON text."""
    if isinstance(result, pd.DataFrame):
        if len(result) != 1:
            raise ValueError(f"an experiment must return a dict (or a one-row DataFrame), got {len(result)} rows")
        result = result.iloc[0].to_dict()
    if hasattr(result, "to_frame") and not isinstance(result, dict):
        return _flatten(result.to_frame())
    if not isinstance(result, dict):
        raise ValueError(f"an experiment must return a dict of results, got {type(result).__name__}")
    row = {}
    for k, v in result.items():
        v = _plain(v)
        if v is None or isinstance(v, (bool, int, float, str)):
            row[str(k)] = v
        else:
            row[str(k)] = json.dumps(v, default=str)
    return row


def run_task(fn, params: dict, seed: int, workdir: str | Path, cache_dir: str | Path | None = None,
             experiment: str | None = None) -> dict:
    """Run one task with its own Brian2 directories; never raises for the experiment's errors.

    Parameters
    ----------
    fn : str or callable
        A registered experiment name or ``fn(params, seed, workdir) -> dict``.
    params : dict
        The task's parameters.
    seed : int
        The task's seed.
    workdir : path
        The task's working directory (created).
    cache_dir : path, optional
        Brian2 cython cache (default ``workdir/cython_cache``).
    experiment : str, optional
        Name stored in the record (default: ``fn``'s name).

    Returns
    -------
    dict
        The record: ``key``, ``experiment``, ``seed``, ``params``, ``status`` (``"ok"`` or
        ``"failed"``), ``result`` (dict), ``error``, ``traceback``, ``wall_seconds``, ``worker``.
    """
    name = experiment or _fn_name(fn)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache_dir) if cache_dir is not None else workdir / "cython_cache"
    record = {"key": task_key(name, params, seed), "experiment": name, "seed": int(seed),
              "params": _plain(params), "status": "ok", "result": {}, "error": None,
              "traceback": None, "worker": worker_name()}
    start = time.perf_counter()
    try:
        call = fn
        if isinstance(fn, str):
            from brainlearn.experiments import get_experiment

            call = get_experiment(fn)
        with _brian_isolation(workdir, cache_dir), signals_from_any_thread():
            record["result"] = _flatten(call(dict(params), int(seed), workdir))
    except Exception as exc:  # the sweep reports it and goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc())
    record["wall_seconds"] = time.perf_counter() - start
    return record


# --------------------------------------------------------------------- the sweep
#: Dask settings for workers that run one CPU-bound Python task at a time. Dask's defaults
#: wake the worker's event loop every 20 ms and sample the task's stack every 10 ms; each wake
#: takes the GIL from the task. Measured here on protocol tasks: 25-30 % slower inside a
#: default worker than in a plain process, within 5 % with these settings.
WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


def local_client(workers: int | None = None, **kwargs):
    """A Client on a new LocalCluster: ``workers`` single-threaded processes (default: cores).

    The workers get :data:`WORKER_CONFIG` (no statistical profiler, a quiet event loop).
    """
    import dask
    from dask.distributed import Client, LocalCluster

    n = int(workers or os.cpu_count() or 1)
    if n < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    with dask.config.set(WORKER_CONFIG):  # the nannies hand this config to their workers
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None, **kwargs)
    return Client(cluster)


def connect_client(client, workers: int | None = None):
    """A Dask client for ``client`` and whether this call opened it.

    Parameters
    ----------
    client : None, str or distributed.Client
        None: a new :func:`local_client` of ``workers`` processes; a scheduler address: a
        client connected to it; a Client: used as it is.
    workers : int, optional
        Worker processes of a new local cluster.

    Returns
    -------
    (Client, bool)
        The client and ``owned``: pass both to :func:`close_client` when done.
    """
    if client is None:
        return local_client(workers), True
    if isinstance(client, str):
        from dask.distributed import Client

        try:
            return Client(client, timeout="20s"), True
        except OSError as exc:
            raise RuntimeError(f"cannot reach the Dask scheduler at {client}: {exc}") from None
    return client, False


def close_client(client, owned: bool) -> None:
    """Close a client from :func:`connect_client` (and its LocalCluster) if it opened it."""
    if owned:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()


def _write_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _write_table(frame: pd.DataFrame, out: Path) -> None:
    with atomic_path(out / "results.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    with atomic_path(out / "results.csv") as tmp:
        frame.to_csv(tmp, index=False)


def _load_records(out: Path) -> dict[str, dict]:
    records = {}
    folder = out / "tasks"
    if folder.is_dir():
        for path in folder.glob("*.json"):
            try:
                rec = json.loads(path.read_text())
            except (json.JSONDecodeError, OSError):
                continue  # a damaged record: the task runs again
            records[rec["key"]] = rec
    return records


def _frame(tasks: list[Task], records: dict[str, dict]) -> pd.DataFrame:
    rows = []
    param_names = list(dict.fromkeys(k for t in tasks for k in t.params))
    for t in tasks:
        rec = records.get(t.key)
        if rec is None:
            continue
        row = {k: rec.get(k) for k in META}
        row.update(t.params)
        for k, v in rec["result"].items():
            row[k if k not in row else f"result_{k}"] = v
        rows.append(row)
    columns = list(META) + param_names
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rest = [c for c in frame.columns if c not in columns]
    return frame[[c for c in columns if c in frame.columns] + rest]


def load_results(out: str | Path) -> pd.DataFrame:
    """The results table of a sweep directory (from its task records, in task order)."""
    out = Path(out)
    spec_path = out / "sweep.json"
    if not spec_path.exists():
        raise FileNotFoundError(f"{out} is not a sweep directory (no sweep.json)")
    spec = json.loads(spec_path.read_text())
    tasks = [Task(k, p, s) for k, p, s in spec["tasks"]]
    return _frame(tasks, _load_records(out))


def sweep(
    fn: str | Callable,
    grid: dict | list,
    seeds: int | list = 1,
    client=None,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    workers: int | None = None,
    retries: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """Run ``fn`` on every grid point and seed as Dask tasks; return one row per task.

    Parameters
    ----------
    fn : str or callable
        A registered experiment (:mod:`brainlearn.experiments`) or
        ``fn(params: dict, seed: int, workdir: Path) -> dict``; a callable must be importable
        (or picklable) on the workers.
    grid : dict or list of dict
        ``{name: [values]}`` (product of all lists) or explicit parameter dicts
        (:func:`expand_grid`).
    seeds : int or list of int
        ``K`` (seeds 0..K-1) or the seeds.
    client : dask.distributed.Client, str or "serial", optional
        ``None``: a new LocalCluster with ``workers`` single-threaded processes (closed at the
        end); an address ``"tcp://HOST:PORT"``: that scheduler; a Client: used as it is;
        ``"serial"``: every task in this process, one after another (the baseline).
    out : path, optional
        Sweep directory: ``sweep.json``, ``tasks/KEY.json`` (one record per finished task),
        ``results.parquet``/``results.csv``, ``work/KEY`` (task workdirs), ``cache/``.
        Default: a temporary directory.
    resume : bool
        Skip the tasks ``out`` already finished (failed ones run again).
    workers : int, optional
        LocalCluster size (default: one per core).
    retries : int
        How often a failed task is tried again (default once).
    progress : bool
        Show a progress bar of tasks done / failed.

    Returns
    -------
    pandas.DataFrame
        In task order: ``key``, ``experiment``, ``seed``, ``status`` (``ok``/``failed``),
        ``attempts``, ``error``, ``traceback``, ``wall_seconds``, ``worker``, the parameters,
        then the results.
    """
    name = _fn_name(fn)
    if isinstance(fn, str):
        from brainlearn.experiments import get_experiment

        # unknown names fail before any task starts; the workers get the experiment itself
        # (they import the module that registered it), not a name to look up in their registry
        fn = get_experiment(fn)
    elif not callable(fn):
        raise ValueError(f"fn must be an experiment name or a callable, got {type(fn).__name__}")
    if int(retries) < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    pairs = expand_grid(grid, seeds)
    tasks = [Task(task_key(name, p, s), p, s) for p, s in pairs]
    if len({t.key for t in tasks}) != len(tasks):
        raise ValueError("the grid holds the same parameters and seed twice")

    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="brainlearn_sweep_"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "tasks").mkdir(exist_ok=True)
    records = _load_records(out)
    if records and not resume:
        raise ValueError(f"{out} already holds results of a sweep: resume it to skip its "
                         "finished tasks, or choose another directory")
    previous = json.loads((out / "sweep.json").read_text()) if (out / "sweep.json").exists() else None
    known = {k: (p, s) for k, p, s in (previous or {}).get("tasks", [])}
    known.update({t.key: (t.params, t.seed) for t in tasks})
    _write_atomic(out / "sweep.json", rundir.json_text({
        "experiment": name, "grid": _plain(grid), "seeds": _plain(seeds),
        "tasks": [[k, p, s] for k, (p, s) in known.items()],
    }, indent=1))
    rundir.write_config(out, {"experiment": name, "grid": _plain(grid), "seeds": _plain(seeds),
                              "retries": int(retries)}, kind="sweep")
    todo = [t for t in tasks if records.get(t.key, {}).get("status") != "ok"]

    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="task", desc="sweep",
               disable=not progress, dynamic_ncols=True)
    counts = {"failed": 0}

    def finish(task: Task, record: dict, attempt: int) -> bool:
        """Store a record; True if the task is done (ok or out of retries)."""
        record["attempts"] = attempt
        if record["status"] != "ok":
            more = attempt <= int(retries)
            _report(task, record, attempt, int(retries) + 1, more, bar)
            if more:
                return False
            counts["failed"] += 1
        records[task.key] = record
        _write_atomic(out / "tasks" / f"{task.key}.json", rundir.json_text(record))
        bar.update(1)
        bar.set_postfix(failed=counts["failed"], refresh=False)
        return True

    try:
        if isinstance(client, str) and client == "serial":
            _run_serial(fn, name, todo, out, finish)
        else:
            _run_dask(fn, name, todo, out, finish, client, workers)
    finally:
        bar.close()
        frame = _frame(tasks, records)
        if len(frame):
            _write_table(frame, out)
        rundir.update_metrics(out, {"tasks": len(tasks), "failed": counts["failed"],
                                    "finished": sum(r.get("status") == "ok" for r in records.values())})
    return frame


def _workdir(out: Path, key: str) -> Path:
    return out / "work" / key


def _run_serial(fn, name, todo, out, finish) -> None:
    for task in todo:
        attempt = 1
        while True:
            record = run_task(fn, task.params, task.seed, _workdir(out, task.key),
                              out / "cache" / "local", experiment=name)
            if finish(task, record, attempt):
                break
            attempt += 1


def _run_dask(fn, name, todo, out, finish, client, workers) -> None:
    from dask.distributed import as_completed

    client, owned = connect_client(client, workers)
    try:
        def submit(task: Task, attempt: int):
            fut = client.submit(_dask_task, fn, name, task.params, task.seed, str(out),
                                key=f"sweep-{task.key}-{attempt}", pure=False)
            pending[fut.key] = (task, attempt)
            return fut

        pending: dict = {}
        queue = as_completed([submit(t, 1) for t in todo])
        for fut in queue:
            task, attempt = pending.pop(fut.key)
            if fut.status == "finished":
                record = fut.result()
            else:  # the worker died or the result could not come back
                try:
                    exc = fut.exception()
                except BaseException as err:  # cancelled: the scheduler lost the task
                    exc = err
                record = {"key": task.key, "experiment": name, "seed": task.seed,
                          "params": task.params, "status": "failed", "result": {},
                          "error": f"{type(exc).__name__}: {exc}",
                          "traceback": "".join(traceback.format_exception(exc)),
                          "wall_seconds": float("nan"), "worker": None}
            fut.release()
            if not finish(task, record, attempt):
                queue.add(submit(task, attempt + 1))
    finally:
        close_client(client, owned)


def _dask_task(fn, name, params, seed, out):
    """The function a Dask worker runs: one task in its own workdir and worker cache."""
    out = Path(out)
    key = task_key(name, params, seed)
    return run_task(fn, params, seed, _workdir(out, key), out / "cache" / worker_name(),
                    experiment=name)


def _report(task: Task, record: dict, attempt: int, tries: int, again: bool, bar) -> None:
    what = "retrying" if again else "giving up"
    params = ", ".join(f"{k}={v!r}" for k, v in task.params.items()) or "(no parameters)"
    lines = [f"task {task.key} failed (attempt {attempt}/{tries}, {what}): {params}, seed={task.seed}",
             f"  {record['error']}"]
    if not again and record.get("traceback"):
        lines += ["  " + line for line in record["traceback"].rstrip().splitlines()]
    msg = "\n".join(lines)
    if bar is not None and not bar.disable:
        bar.write(msg, file=sys.stderr)
    else:
        print(msg, file=sys.stderr)


class _CallableModule(type(sys)):
    """``brainlearn.sweep`` is this module (Python binds a package's submodule to its name), so
    the module itself calls :func:`sweep`: ``brainlearn.sweep(fn, grid, seeds)`` always works."""

    def __call__(self, *args, **kwargs) -> pd.DataFrame:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
