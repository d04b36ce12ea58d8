"""Input encoders: Poisson rate coding of images for Brian2, and seeded numpy spike trains.

Rate coding follows Diehl & Cook (2015): ``rate = pixel / 8 * intensity`` (pixel in 0..255, so
63.75 Hz at intensity 2 for a white pixel). For runs that present many images, the pixel
values live in a 2-D ``TimedArray`` indexed by an example counter (``pixels(example * ms, i)``)
and an input group draws Poisson spikes from exponential inter-spike intervals, so the cost is
one random number per spike instead of one per neuron and time step. The same group can
instead draw whole-step intervals from a Poisson distribution, as BindsNET's ``poisson``
encoder does (:data:`INTERVALS`).
"""

from __future__ import annotations

import numpy as np
from brian2 import Clock, Hz, NeuronGroup, Quantity, TimedArray, ms, second

from brainlearn.units import check_number, check_quantity

__all__ = [
    "image_rates",
    "pixel_table",
    "poisson_input_group",
    "start_presentation",
    "INTERVALS",
    "poisson_spike_trains",
    "bernoulli_steps",
    "spike_trains",
    "PIXEL_RATE",
    "TABLE_DT",
    "START_PRESENTATION",
]

#: rate per unit pixel value at intensity 1 (pixel / 8 Hz)
PIXEL_RATE = Hz / 8
#: time step of the pixel TimedArray: example k is read at ``k * TABLE_DT``
TABLE_DT = 1 * ms
#: How :func:`poisson_input_group` draws a cell's inter-spike intervals:
#:
#: * ``"exponential"``: exponential intervals of mean ``1 / rate``, a Poisson process (Diehl
#:   & Cook's ``PoissonGroup``);
#: * ``"poisson_steps"``: a whole number of time steps drawn from a Poisson distribution of
#:   mean ``1 / (rate dt)``, a zero raised to one step, the first spike one such interval
#:   after the presentation starts. This is BindsNET's ``encoding.poisson`` (its ``rate``
#:   argument of ``torch.distributions.Poisson`` is the mean interval ``1000 / x`` ms for an
#:   input of ``x`` Hz), the encoder of Saunders et al.'s (2019) LC-SNN runs: the mean rate is
#:   about the same, but the train is far more regular than a Poisson process (interval
#:   variance equal to its mean in steps, a coefficient of variation of ``sqrt(rate dt)``:
#:   0.36 at 127.5 Hz and 1 ms steps, against 1).
INTERVALS = ("exponential", "poisson_steps")


def image_rates(images: np.ndarray, intensity: float = 2.0, scale: Quantity = PIXEL_RATE) -> Quantity:
    """Poisson rates of flattened images: ``pixel * scale * intensity``.

    Parameters
    ----------
    images : ndarray
        Images of shape ``(n, 28, 28)`` or ``(n, 784)`` (or one flat image), values 0..255.
    intensity : float
        Intensity multiplier (Diehl & Cook start at 2).
    scale : Quantity
        Rate per unit pixel value (default ``Hz / 8``).

    Returns
    -------
    Quantity
        Rates in Hz, shape ``(n, pixels)``.
    """
    intensity = check_number("intensity", intensity)
    check_quantity("scale", scale, Hz)
    arr = _flat_images(images)
    return arr * intensity * scale


def _flat_images(images: np.ndarray) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if not np.all(np.isfinite(arr)) or arr.min(initial=0) < 0:
        raise ValueError("images must hold finite, non-negative pixel values")
    return arr.astype(np.float64)


def pixel_table(images: np.ndarray, name: str = "pixels") -> TimedArray:
    """A 2-D ``TimedArray`` of pixel values: ``pixels(k * TABLE_DT, i)`` is pixel ``i`` of image ``k``.

    Its values can be replaced between standalone runs through ``run_args`` (same shape).
    """
    return TimedArray(_flat_images(images), dt=TABLE_DT, name=name)


def poisson_input_group(
    n_inputs: int,
    table: TimedArray,
    *,
    scale: Quantity = PIXEL_RATE,
    name: str = "input",
    dt: Quantity | None = None,
    clock: Clock | None = None,
    intervals: str = "exponential",
) -> NeuronGroup:
    """A group of Poisson cells reading their rates from ``table`` at the current example.

    The group has variables ``example`` and ``intensity`` (to be linked to a controller),
    ``t_off`` (no spike at or after this time) and ``rate``. Calling :func:`start_presentation`
    code at the start of every presentation draws the first spike time of each cell; each
    spike draws the next from an exponential inter-spike interval (a Poisson process, at most
    one spike per time step, as ``PoissonGroup``).

    Parameters
    ----------
    n_inputs : int
        Number of input cells (784 for MNIST).
    table : TimedArray
        Pixel table from :func:`pixel_table`.
    scale : Quantity
        Rate per unit pixel value at intensity 1.
    name : str
        Brian2 name of the group.
    dt : Quantity, optional
        Time step (default: the default clock's).
    clock : brian2.Clock, optional
        A clock to run on instead (with ``dt`` None), e.g. one shared with other groups.
    intervals : str
        How the intervals between a cell's spikes are drawn (:data:`INTERVALS`); the start
        of a presentation must use the same (:func:`start_presentation`).
    """
    check_quantity("scale", scale, Hz)
    intervals = _check_intervals(intervals)
    eqs = """
    rate : Hz
    next_t : second
    example : 1 (linked)
    intensity : 1 (linked)
    t_off : second (linked)
    """
    kwargs = {"dt": dt} if dt is not None else {}
    if clock is not None:
        kwargs["clock"] = clock
    group = NeuronGroup(
        int(n_inputs),
        eqs,
        threshold="t >= next_t",
        reset=_NEXT_SPIKE[intervals] + _SILENT_AFTER_T_OFF,
        namespace={"pixels": table, "pixel_scale": scale, "table_dt": TABLE_DT,
                   "input_dt": _step(dt, clock)},
        name=name,
        **kwargs,
    )
    group.next_t = 1e9 * second
    return group


#: A next spike that would fall on or after ``t_off`` (the first step at or after ``next_t``
#: is then ``t_off`` or later) is moved out of reach, so the threshold needs no ``t_off`` test.
_SILENT_AFTER_T_OFF = "next_t += 1e9 * second * int(next_t > t_off - dt)"

#: Code run on the input group at the start of every presentation (exponential intervals).
START_PRESENTATION = (
    "rate = pixels(example * table_dt, i) * intensity * pixel_scale\n"
    "next_t = t - log(rand()) / (rate + 1e-30 * Hz)\n" + _SILENT_AFTER_T_OFF
)

#: Code that moves ``next_t`` on by one interval (:data:`INTERVALS`). ``input_dt`` is the
#: group's time step (a constant of its namespace: in the presentation start, run on a clock
#: of its own, ``dt`` would be that clock's). A cell of rate 0 draws no interval and is moved
#: out of reach.
_NEXT_SPIKE = {
    "exponential": "next_t += -log(rand()) / (rate + 1e-30 * Hz)\n",
    "poisson_steps": (
        "next_t += input_dt * clip(poisson(int(rate > 0 * Hz) / (rate * input_dt + 1e-30)), 1, "
        "1e9) + 1e9 * second * int(rate <= 0 * Hz)\n"),
}


def _check_intervals(intervals: str) -> str:
    if intervals not in INTERVALS:
        raise ValueError(f"intervals must be one of {INTERVALS}, got {intervals!r}")
    return intervals


def _step(dt: Quantity | None, clock: Clock | None) -> Quantity:
    from brian2 import defaultclock

    if dt is not None:
        return dt
    return clock.dt if clock is not None else defaultclock.dt


def start_presentation(intervals: str = "exponential") -> str:
    """Code run on a :func:`poisson_input_group` at the start of every presentation: the
    rates of the current example, and each cell's first spike one interval (of the kind
    ``intervals``, :data:`INTERVALS`) after the start. ``"exponential"`` gives
    :data:`START_PRESENTATION`."""
    if _check_intervals(intervals) == "exponential":
        return START_PRESENTATION
    return ("rate = pixels(example * table_dt, i) * intensity * pixel_scale\n"
            "next_t = t\n" + _NEXT_SPIKE[intervals] + _SILENT_AFTER_T_OFF)


def poisson_spike_trains(
    rates: Quantity, duration: Quantity, dt: Quantity = 0.1 * ms, seed: int | None = None
) -> tuple[np.ndarray, Quantity]:
    """Seeded Bernoulli-per-step Poisson spike trains (numpy; for tests and analysis).

    Parameters
    ----------
    rates : Quantity
        Rate of each cell (1-D, Hz).
    duration : Quantity
        Length of the trains.
    dt : Quantity
        Time grid; each cell spikes in a step with probability ``rate * dt``.
    seed : int, optional
        Seed of the random generator; the same seed gives the same trains.

    Returns
    -------
    indices : ndarray of int
        Cell index of every spike, sorted by time.
    times : Quantity
        Spike times (on the ``dt`` grid).
    """
    check_quantity("rates", rates, Hz, allow_array=True)
    check_quantity("duration", duration, second)
    check_quantity("dt", dt, second)
    p = np.atleast_1d(np.asarray(rates * dt, dtype=float))
    if np.any(p > 1):
        raise ValueError("rates * dt exceeds 1: use a smaller dt")
    n_steps = int(round(float(duration / dt)))
    rng = np.random.default_rng(seed)
    steps, cells = np.nonzero(rng.random((n_steps, p.size)) < p[None, :])
    return cells.astype(np.int64), steps * dt


def bernoulli_steps(x, steps: int, seed, indices=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-step Bernoulli ("Poisson") spikes of pixel values, one seeded generator per example.

    SpikingJelly's ``encoding.PoissonEncoder``: at every step pixel ``p`` spikes when a fresh
    uniform number is below its value ``x_p`` in ``[0, 1]`` (``rand < x``). Only the non-zero
    pixels can spike, so they alone are drawn and returned, padded to the largest count of the
    batch. Example ``e`` draws ``steps`` x ``n_nonzero`` float32 numbers from
    ``numpy.random.default_rng((*seed, indices[e]))``: the trains of an example do not depend on
    the batch it is drawn in, so two implementations that split the data differently (a
    PyTorch trainer and a Brian2 run) see the same spikes.

    Parameters
    ----------
    x : array (n, n_pixels)
        Pixel values in ``[0, 1]``.
    steps : int
        Time steps.
    seed : int or sequence of int
        Seed (an epoch may be appended to draw fresh trains every epoch).
    indices : array of int, optional
        Index of every example in its data set (default ``0 .. n-1``).

    Returns
    -------
    spikes : ndarray of bool, (n, steps, k)
        ``spikes[e, t, j]``: pixel ``pixels[e, j]`` of example ``e`` spikes at step ``t``.
    pixels : ndarray of int64, (n, k)
        Pixel index of every column (padding columns point at pixel 0 and never spike).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be (examples, pixels), got shape {x.shape}")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError("pixel values must lie in [0, 1] to be spike probabilities")
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    seed = (int(seed),) if np.ndim(seed) == 0 else tuple(int(s) for s in seed)
    indices = np.arange(len(x)) if indices is None else np.asarray(indices, dtype=np.int64)
    nonzero = x > 0
    k = int(nonzero.sum(axis=1).max(initial=0))
    pixels = np.zeros((len(x), k), dtype=np.int64)
    spikes = np.zeros((len(x), steps, k), dtype=bool)
    for e in range(len(x)):
        where = np.flatnonzero(nonzero[e])
        pixels[e, :where.size] = where
        rng = np.random.default_rng((*seed, int(indices[e])))
        spikes[e, :, :where.size] = rng.random((steps, where.size), dtype=np.float32) < x[e, where]
    return spikes, pixels


def spike_trains(spikes, n_examples: int, n_neurons: int, steps: int,
                 window: float) -> np.ndarray:
    """Binary spike trains ``(examples, steps, neurons)`` from spikes timed per example.

    The recorded spikes of a network that saw one example per window (as
    :func:`brainlearn.rundir.read_window_spikes` returns them) become the input of a readout
    or an output layer that runs in ``steps`` discrete steps per example.

    Parameters
    ----------
    spikes : pandas.DataFrame
        ``neuron``, ``example`` and ``t``: seconds from the start of the example's window.
    n_examples, n_neurons : int
        Shape of the result (silent examples and neurons included).
    steps : int
        Steps per example: a spike at ``t`` falls on step ``floor(t * steps / window)``; two
        spikes of one neuron in one step make one spike (none at the network's own ``dt``).
    window : float
        Length of each example's window in seconds.

    Returns
    -------
    ndarray of uint8, (n_examples, steps, n_neurons)
    """
    t = spikes["t"].to_numpy(float)
    if len(t) and (t.min() < 0 or t.max() >= window):
        raise ValueError(f"spike times must lie in each example's window [0, {window}) s")
    # the small tolerance keeps a spike on the step boundary it was recorded at
    step = np.minimum(np.floor(t * steps / window + 1e-9).astype(np.int64), steps - 1)
    out = np.zeros((n_examples, steps, n_neurons), dtype=np.uint8)
    out[spikes["example"].to_numpy(np.int64), step, spikes["neuron"].to_numpy(np.int64)] = 1
    return out
