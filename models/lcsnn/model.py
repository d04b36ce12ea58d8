"""The locally connected spiking network (LC-SNN) of Saunders et al. (2019), in Brian2.

D. J. Saunders, D. Patel, H. Hazan, H. T. Siegelmann, R. Kozma (2019), "Locally connected
spiking neural networks for unsupervised feature learning", Neural Networks 119:332-340
(arXiv 1904.06269). Parameters from the authors' code: BindsNET's ``LocallyConnectedNetwork``,
``LocallyConnectedConnection``, ``DiehlAndCookNodes`` and ``PostPre``, run by
``experiments/mnist/crop_locally_connected.py`` of BINDS-LAB-UMASS/bindsnet_experiments.

The network: the 28x28 image cropped by 4 pixels on every side (20x20 = 400 Poisson inputs,
``pixel * 0.5 Hz``) -> ``F`` filters at each of ``L x L`` locations of a ``k x k`` kernel
moved by stride ``s`` (``L = (20 - k) // s + 1``; 12/4 and 16/2 both give 3x3 locations), one
current-based LIF cell with adaptive threshold per filter and location (``N = 9 F`` cells,
each seeing only its ``k x k`` patch) -> every cell inhibits the cells of the other filters
at its own location (``-250 mV``). Learning is BindsNET's ``PostPre`` with a zero pre rate:
on a post spike ``w += nu * x_pre`` (pre trace set to 1 per spike, 20 ms), weights clipped
to [0, 1] and each cell's weights renormalised to ``0.2 k^2`` after every presentation;
``nu = 0.01`` decays by ``0.99`` every 250 images. Each image is shown for 250 ms at 1 ms
steps; an image that evokes fewer than 5 spikes is shown again at twice the rate (at most
three times); before a new image the membrane potentials go back to rest.

The network is :func:`build_network`; the presentation protocol runs inside Brian2's
generated code (the core's controller, :mod:`brainlearn.presentation`, as in Diehl & Cook's
network, with the LC-SNN's retry rule), so a chunk of images is one execution of one compiled
binary (:class:`brainlearn.chunked.ChunkedSimulation`). The same binary evaluates: with
``A_plus = 0``, ``theta_on = 0`` and ``w_max`` lifted (values passed per run) it shows images
with weights and thresholds frozen, spike for spike as the frozen network of
``build_network(plastic=False)``. Under ``cpp_standalone`` the groups and synapses run
brainlearn's compiled code (:mod:`brainlearn.cppcode`) and the input synapses are stored by
pixel (:func:`synapse_order`): the same numbers, computed faster.

Two choices keep BindsNET's discrete dynamics exactly where Brian2's step order differs:

* BindsNET adds a spike's effect at the next step, after the leak; Brian2 adds it in the
  spike's own step, before the next leak. The synapses therefore add ``w * exp(dt / tau_m)``
  mV, which after one leak step is BindsNET's ``w``.
* BindsNET blocks all input for 5 steps after a spike (its refractory counter); Brian2's
  refractoriness with ``refractory = 5 ms`` blocks the same steps (the synapses multiply by
  ``not_refractory``).

One BindsNET rule is an option, off by default: ``DiehlAndCookNodes(one_spike=True)``, on in
the authors' code, lets only one of the cells that cross threshold in the same step, chosen
uniformly at random over the whole layer, emit its spike (inhibit, learn, count); all of them
reset, raise theta and turn refractory. ``LCSNNParams(one_spike=True)`` does the same under
``cpp_standalone`` (brainlearn's threshold template, :class:`brainlearn.cppcode.OneSpikeCodeObject`,
picks the cell with Brian2's random generator; a custom event ``crossed`` of the threshold
condition resets every crossing cell). By default every crossing cell spikes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from brian2 import (
    EventMonitor,
    Hz,
    Network,
    Quantity,
    SpikeMonitor,
    Synapses,
    linked_var,
    ms,
    mV,
)

from brainlearn.cppcode import (
    fast_codeobj_class,
    one_spike_codeobj_class,
    scale_by_post,
    untimed_steps,
)
from brainlearn.encoding import INTERVALS, pixel_table, poisson_input_group, start_presentation
from brainlearn.plasticity import PairSTDP, SynapseCode
from brainlearn.presentation import link_input, multiply_intensity, presentation_controller
from brainlearn.units import NUMBER, CheckedParams, check_quantity, qfield

__all__ = ["LCSNNParams", "CITATION", "build_network", "receptive_fields", "crop_images",
           "learning_rule", "plastic_code", "connect_input", "inhibition_pairs",
           "synapse_order", "PAPER_SIZES"]

CITATION = (
    "D. J. Saunders, D. Patel, H. Hazan, H. T. Siegelmann, R. Kozma (2019), Locally connected "
    "spiking neural networks for unsupervised feature learning, Neural Networks 119:332-340"
)

#: filters -> (kernel, stride) of the published curve (the synapse counts of the paper's
#: table: 25, 50, 100 filters 12x12 kernels at stride 4; 250, 500 filters 16x16 at stride 2)
PAPER_SIZES: dict[int, tuple[int, int]] = {25: (12, 4), 50: (12, 4), 100: (12, 4),
                                           250: (16, 2), 500: (16, 2)}


@dataclass(frozen=True)
class LCSNNParams(CheckedParams):
    """Every parameter of the LC-SNN and its protocol (the authors' values).

    ``norm`` is the weight sum per input synapse: each cell's weights are scaled to sum to
    ``norm * kernel**2`` after every presentation. ``lr`` (BindsNET's post rate ``nu[1]``) is
    multiplied by ``lr_decay`` every ``decay_every`` images. ``one_spike``: of the cells that
    cross threshold in one step, one (chosen uniformly at random) spikes, as the authors'
    ``DiehlAndCookNodes(one_spike=True)``; all of them reset, raise theta and turn
    refractory (``cpp_standalone`` only). ``input_intervals``: how the input cells' spike
    intervals are drawn (:data:`brainlearn.encoding.INTERVALS`): exponential, a Poisson
    process, or ``"poisson_steps"``, whole steps from a Poisson distribution, as the
    BindsNET encoder of the authors' runs (a far more regular train of the same mean rate).
    """

    n_filters: int = 25
    kernel: int = 12
    stride: int = 4
    crop: int = 4
    dt: Quantity = qfield(1 * ms)
    t_input: Quantity = qfield(250 * ms)
    input_rate: Quantity = qfield(0.5 * Hz)
    intensity_factor: float = 2.0
    min_spikes: float = 5.0
    max_retries: float = 3.0
    v_rest: Quantity = qfield(-65 * mV)
    v_reset: Quantity = qfield(-60 * mV)
    v_thresh: Quantity = qfield(-52 * mV)
    tau_m: Quantity = qfield(100 * ms)
    refractory: Quantity = qfield(5 * ms)
    theta_plus: Quantity = qfield(0.05 * mV)
    tau_theta: Quantity = qfield(1e7 * ms)
    w_inh: Quantity = qfield(250 * mV)
    norm: float = 0.2
    lr: float = 0.01
    lr_decay: float = 0.99
    decay_every: int = 250
    tau_trace: Quantity = qfield(20 * ms)
    one_spike: bool = False
    input_intervals: str = "exponential"

    _units = {
        "dt": ms, "t_input": ms, "input_rate": Hz, "intensity_factor": NUMBER,
        "min_spikes": NUMBER, "max_retries": NUMBER, "v_rest": mV, "v_reset": mV,
        "v_thresh": mV, "tau_m": ms, "refractory": ms, "theta_plus": mV, "tau_theta": ms,
        "w_inh": mV, "norm": NUMBER, "lr": NUMBER, "lr_decay": NUMBER, "tau_trace": ms,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_filters", "kernel", "stride", "decay_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        if not isinstance(self.one_spike, bool | np.bool_):
            raise ValueError(f"one_spike must be true or false, got {self.one_spike!r}")
        if self.input_intervals not in INTERVALS:
            raise ValueError(f"input_intervals must be one of {INTERVALS}, got "
                             f"{self.input_intervals!r}")
        if not 0 <= int(self.crop) < 14:
            raise ValueError(f"crop must be 0 to 13 pixels, got {self.crop!r}")
        if self.kernel > self.side:
            raise ValueError(f"kernel {self.kernel} is larger than the {self.side}x{self.side} "
                             f"cropped image")

    @classmethod
    def paper(cls, n_filters: int, **changes) -> LCSNNParams:
        """The published configuration for ``n_filters`` (kernel and stride of
        :data:`PAPER_SIZES`; 12/4 for a size the paper did not train)."""
        kernel, stride = PAPER_SIZES.get(int(n_filters), (12, 4))
        return cls(**{"n_filters": int(n_filters), "kernel": kernel, "stride": stride,
                      **changes})

    @property
    def side(self) -> int:
        """Side of the cropped image (20 for crop 4)."""
        return 28 - 2 * int(self.crop)

    @property
    def locations(self) -> int:
        """Patch locations per side: ``(side - kernel) // stride + 1``."""
        return (self.side - self.kernel) // self.stride + 1

    @property
    def n_inputs(self) -> int:
        """Input cells (cropped pixels)."""
        return self.side ** 2

    @property
    def n_neurons(self) -> int:
        """Cells: filters times locations."""
        return self.n_filters * self.locations ** 2

    @property
    def n_synapses(self) -> int:
        """Plastic input synapses: cells times kernel area."""
        return self.n_neurons * self.kernel ** 2

    @property
    def norm_total(self) -> float:
        """Weight sum of every cell after normalisation: ``norm * kernel**2``."""
        return float(self.norm) * self.kernel ** 2

    def learning_rate(self, position: int) -> float:
        """``lr * lr_decay ** (position // decay_every)``: the rate while image ``position``
        (0-based, counted over all epochs) is shown."""
        return float(self.lr) * float(self.lr_decay) ** (int(position) // self.decay_every)

    def initial_weights(self, rng: np.random.Generator) -> np.ndarray:
        """Uniform [0, 1) weights of the :attr:`n_synapses` synapses, in the order of
        :func:`receptive_fields`."""
        return rng.random(self.n_synapses)


def crop_images(images: np.ndarray, crop: int) -> np.ndarray:
    """Flattened images with ``crop`` pixels removed on every side: ``(n, (28 - 2 crop)**2)``."""
    arr = np.asarray(images, dtype=float).reshape(-1, 28, 28)
    side = 28 - 2 * int(crop)
    return arr[:, crop:crop + side, crop:crop + side].reshape(len(arr), side * side)


def receptive_fields(params: LCSNNParams) -> tuple[np.ndarray, np.ndarray]:
    """``(pre, post)``: the input pixel and cell of every plastic synapse.

    Cell ``f * L**2 + c`` is filter ``f`` at location ``c = c1 * L + c2`` (BindsNET's order);
    it sees pixels ``(c1 s + k1) * side + c2 s + k2`` for ``k1, k2 < kernel``. Synapses are
    ordered by cell, then pixel.
    """
    p = params
    n_loc, k, s = p.locations, p.kernel, p.stride
    c1, c2 = np.divmod(np.arange(n_loc ** 2), n_loc)
    k1, k2 = np.divmod(np.arange(k * k), k)
    patch = (c1[:, None] * s + k1[None, :]) * p.side + c2[:, None] * s + k2[None, :]  # (loc, k*k)
    pre = np.tile(patch, (p.n_filters, 1)).ravel()
    post = np.repeat(np.arange(p.n_neurons), k * k)
    return pre.astype(np.int64), post.astype(np.int64)


def synapse_order(params: LCSNNParams) -> np.ndarray:
    """The order in which the network stores the input synapses: position ``s`` holds
    synapse ``order[s]`` of :func:`receptive_fields` (by pixel, then cell).

    One input spike's synapses are then one block of consecutive indices, which the spike
    queue records as one run and the compiled event code walks as one loop
    (:mod:`brainlearn.cppcode`), instead of synapses scattered over all cells' patches.
    Results do not depend on it: a cell receives its input spikes' effects in the order of
    the spiking pixels, and its own synapses (the post-synaptic pathway, ``wsum``) in pixel
    order, either way. Weights go in as ``w[order]`` and come out as ``w[order] = stored``.
    """
    pre, post = receptive_fields(params)
    return np.lexsort((post, pre))


def inhibition_pairs(params: LCSNNParams) -> tuple[np.ndarray, np.ndarray]:
    """``(i, j)``: every pair of distinct filters at the same location (``i`` inhibits ``j``)."""
    n_loc2, f = params.locations ** 2, params.n_filters
    f1, f2 = np.meshgrid(np.arange(f), np.arange(f), indexing="ij")
    keep = f1 != f2
    f1, f2 = f1[keep], f2[keep]
    loc = np.arange(n_loc2)
    i = (f1[None, :] * n_loc2 + loc[:, None]).ravel()
    j = (f2[None, :] * n_loc2 + loc[:, None]).ravel()
    return i.astype(np.int64), j.astype(np.int64)


def learning_rule(params: LCSNNParams) -> PairSTDP:
    """BindsNET's ``PostPre`` with ``nu = (0, lr)`` as a brainlearn rule: additive pair STDP
    with no depression, nearest-spike traces (set to 1) of ``tau_trace``, bounds [0, 1].

    On a post spike ``w = clip(w + A_plus * apre, 0, 1)``, ``apre = exp(-(t - t_pre) / 20 ms)``.
    """
    return PairSTDP(A_plus=float(params.lr), A_minus=0.0, tau_plus=params.tau_trace,
                    tau_minus=params.tau_trace, w_min=0.0, w_max=1.0, scheme="nearest")


def plastic_code(params: LCSNNParams) -> SynapseCode:
    """The plastic input synapses' code: :func:`learning_rule` rendered as ``replay`` runs it,
    with the input's effect on the membrane and two additions that leave the rule alone:
    ``A_plus`` and ``w_max`` are shared synapse variables (the decaying learning rate, set per
    chunk; the upper bound, 1, lifted with ``A_plus = 0`` when the same binary evaluates),
    and each weight change is added to the cell's ``wsum`` (the normalisation is then one
    multiply per synapse).

    The rule has no depression (``A_minus = 0``): its post-synaptic trace only enters as
    ``w - A_minus * apost``, zero times a finite number, so the code leaves the trace out
    (:func:`_without_depression`) and saves an ``exp`` and two memory accesses per input
    spike and synapse. The term stays, as ``A_minus * lastupdate / second`` (zero as well):
    the compiler (``-ffast-math``) computes ``wsum += w - w_before`` as
    ``(wsum - w_before) + w``, which is not exactly ``wsum`` when ``w`` is unchanged; with
    ``w = clip(w, ...)`` it would see that ``w`` is unchanged and keep ``wsum``, a different
    last bit. Zero times a variable it cannot fold (``-fno-finite-math-only``), so the
    weights, thresholds and spikes stay those of the code with the trace, bit for bit."""
    code = _without_depression(learning_rule(params).render(on_pre_effect=_EFFECT))
    namespace = {k: v for k, v in code.namespace.items() if k not in ("A_plus", "w_max")}
    namespace.update(_effect_namespace(params))
    return SynapseCode(
        model=code.model + "\nA_plus : 1 (shared)\nw_max : 1 (shared)",
        on_pre=_track(code.on_pre), on_post=_track(code.on_post), namespace=namespace,
    )


_DEPRESSION = ("dapost/dt = -apost / tau_minus : 1 (event-driven)",
               "w = clip(w - A_minus * apost, w_min, w_max)", "apost = 1")
_KEPT = "w = clip(w - A_minus * lastupdate / second, w_min, w_max)"


def _without_depression(code: SynapseCode) -> SynapseCode:
    """``code`` (a nearest-spike ``PairSTDP`` rendering with ``A_minus = 0``) without its
    post-synaptic trace, ``w - A_minus * lastupdate / second`` in place of ``w - A_minus * apost``
    (both ``w``: see :func:`plastic_code`). Any other rendering comes back unchanged."""
    trace, depress, reset = _DEPRESSION
    model, pre, post = (s.splitlines() for s in (code.model, code.on_pre, code.on_post))
    if (code.namespace.get("A_minus") != 0.0 or trace not in model or depress not in pre
            or reset not in post or "lastupdate" in code.model
            or any("apost" in line for line in model + pre + post if line not in _DEPRESSION)):
        return code
    return replace(
        code, model="\n".join(line for line in model if line != trace),
        on_pre="\n".join(_KEPT if line == depress else line for line in pre),
        on_post="\n".join(line for line in post if line != reset),
        namespace={k: v for k, v in code.namespace.items() if k != "tau_minus"},
    )


_EFFECT = "v_post += w * w_gain * not_refractory_post"


def _track(statements: str) -> str:
    """``statements`` with their weight change added to the cell's weight sum."""
    return f"w_before = w\n{statements}\nwsum_post += w - w_before"


def _effect_namespace(params: LCSNNParams) -> dict:
    # w (dimensionless) in mV, scaled by one leak step (BindsNET adds input after the leak)
    return {"w_gain": float(np.exp(float(params.dt / params.tau_m))) * mV}


EXC_START = """
v = fresh * v_rest + (1 - fresh) * v
lastspike = fresh * (-1e4 * second) + (1 - fresh) * lastspike
not_refractory = fresh > 0.5 or not_refractory
"""


def build_network(params: LCSNNParams, n_table: int, *, plastic: bool) -> dict:
    """Create the Brian2 objects of the network on the current device.

    Parameters
    ----------
    params : LCSNNParams
        Model and protocol parameters.
    n_table : int
        Images the pixel table holds (a chunk).
    plastic : bool
        Training network (learning, normalisation, adaptive theta; frozen by the run values
        ``syn.A_plus = 0``, ``syn.w_max = 1e300``, ``exc.theta_on = 0``) or the frozen network
        (no plasticity compiled in: ``w : 1 (constant)`` with only its effect on ``v`` on_pre,
        ``theta : volt (constant)``, no normalisation).

    Returns
    -------
    dict
        ``network``, ``controller``, ``input``, ``exc``, ``syn``, ``inh``, ``counter``,
        ``table``, ``spikes``, ``presentations``.
    """
    from brian2 import NeuronGroup

    p = params
    check_quantity("dt", p.dt, ms)
    dt, period = p.dt, p.t_input
    table = pixel_table(np.zeros((int(n_table), p.n_inputs)), name="pixels")
    ctl = presentation_controller(
        multiply_intensity(p.intensity_factor), t_input=p.t_input, period=period,
        min_spikes=p.min_spikes, max_retries=p.max_retries, dt=dt)
    inp = poisson_input_group(p.n_inputs, table, scale=p.input_rate, name="input", dt=dt,
                              intervals=p.input_intervals)
    link_input(inp, ctl, period, start=start_presentation(p.input_intervals))

    eqs = "dv/dt = (v_rest - v) / tau_m : volt\nfresh : 1 (linked)\n"
    if plastic:
        eqs += ("dtheta/dt = -theta_on * theta / tau_theta : volt\ntheta_on : 1 (shared)\n"
                "wsum : 1\nnorm_factor : 1\n")
    else:  # fixed thresholds: a constant of the run (set before it)
        eqs += "theta : volt (constant)\n"
    fast = fast_codeobj_class()  # cpp_standalone: brainlearn's templates (same numbers)
    crossing = "v >= v_thresh + theta"
    reset = "v = v_reset" + ("\ntheta += theta_on * theta_plus" if plastic else "")
    one = {}
    if p.one_spike:  # one crossing cell spikes; a custom event resets them all
        one = {"events": {"crossed": f"({crossing}) and not_refractory"},
               "codeobj_class": one_spike_codeobj_class()}
    exc = NeuronGroup(
        p.n_neurons, eqs, threshold=crossing, reset=None if p.one_spike else reset,
        refractory=p.refractory, method="exact", name="exc", dt=dt,
        namespace={k: getattr(p, k) for k in ("v_rest", "v_reset", "v_thresh", "tau_m",
                                              "theta_plus", "tau_theta")},
        **{"codeobj_class": fast, **one},
    )
    if p.one_spike:
        exc.run_on_event("crossed", reset, when="resets")
        # in the threshold slot before the spike event, which makes every crossing cell
        # refractory (Brian2 checks custom events after the thresholds by default)
        exc.thresholder["crossed"].when = "thresholds"
        exc.thresholder["crossed"].order = exc.thresholder["spike"].order - 1
    exc.v = p.v_rest
    if plastic:
        exc.theta_on = 1.0
    exc.fresh = linked_var(ctl, "fresh", index=np.zeros(p.n_neurons, dtype=int))
    exc.run_regularly(EXC_START, dt=period, when="before_thresholds", order=3)

    objects = dict(controller=ctl, input=inp, exc=exc)
    objects.update(connect_input(p, inp, exc, plastic=plastic, dt=dt))
    inh_i, inh_j = inhibition_pairs(p)
    if len(inh_i):  # one filter: nobody to compete with
        objects["inh"] = Synapses(
            exc, exc, on_pre="v_post -= w_inh * gain * not_refractory_post", name="inh", dt=dt,
            namespace={"w_inh": p.w_inh, "gain": float(np.exp(float(dt / p.tau_m)))},
            codeobj_class=fast)
        objects["inh"].connect(i=inh_i, j=inh_j)
    counter = Synapses(exc, ctl, on_pre="nspk_post += 1.0", name="counter", dt=dt,
                       codeobj_class=fast)
    counter.connect()
    objects.update(
        counter=counter, spikes=SpikeMonitor(exc, name="exc_spikes"),
        presentations=EventMonitor(ctl, "presentation", variables=["example", "intensity"],
                                   name="presentations"),
    )
    network = Network(*objects.values())
    if fast is not None:
        untimed_steps(network)  # no reading of the CPU time after every step (same run)
    objects.update(network=network, table=table)
    return objects


def connect_input(params: LCSNNParams, source, target, *, plastic: bool,
                  dt: Quantity | None = None) -> dict:
    """The input synapses as the network makes them: ``source`` (the cropped pixels) to
    ``target`` (the cells), one synapse per pixel of each cell's patch
    (:func:`receptive_fields`), stored in :func:`synapse_order` (set ``syn.w`` to
    ``w[synapse_order(params)]``), with brainlearn's compiled code under cpp_standalone
    (:func:`brainlearn.cppcode.fast_codeobj_class`).

    When plastic they run :func:`plastic_code` and, at the start of every presentation
    (every ``t_input`` from t=0), scale each cell's weights to sum to ``norm_total``:
    ``norm_factor = norm_total / wsum`` on the cell, ``w *= norm_factor`` on its synapses,
    then ``wsum = norm_total``. ``target`` must have ``v``, ``not_refractory`` and, when
    plastic, ``wsum`` and ``norm_factor``; set ``syn.A_plus`` (the learning rate;
    ``syn.w_max`` starts at the rule's bound, 1).

    Returns
    -------
    dict
        ``syn`` and, when plastic, the ``norm_factor``, ``normalise`` and ``weight_sum``
        operations.
    """
    p = params
    kwargs = {"dt": dt} if dt is not None else {}
    kwargs["codeobj_class"] = fast_codeobj_class()
    if plastic:
        syn = Synapses(source, target, name="syn", **plastic_code(p).kwargs(), **kwargs)
    else:
        # fixed weights: a constant of the run (set before it), the effect alone on_pre
        syn = Synapses(source, target, "w : 1 (constant)", on_pre=_EFFECT, name="syn",
                       namespace=_effect_namespace(p), **kwargs)
    pre, post = receptive_fields(p)
    order = synapse_order(p)
    syn.connect(i=pre[order], j=post[order])
    objects = {"syn": syn}
    if plastic:
        syn.w_max = float(learning_rule(p).w_max)
        total = repr(p.norm_total)
        period = p.t_input
        objects["norm_factor"] = target.run_regularly(
            f"norm_factor = {total} / (wsum + 1e-300)", dt=period, when="before_thresholds",
            order=1)
        # w *= norm_factor_post; cpp_standalone: only the cells whose factor is not 1
        objects["normalise"] = scale_by_post(
            syn, "w", "norm_factor", dt=period, when="before_thresholds", order=2)
        objects["weight_sum"] = target.run_regularly(
            f"wsum = {total} * int(wsum > 0)", dt=period, when="before_thresholds", order=3)
    return objects
