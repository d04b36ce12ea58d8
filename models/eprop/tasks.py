"""The e-prop tasks: sine-wave regression and evidence accumulation, as NEST's tests set them up.

Both generators draw their random numbers in exactly the order of NEST's
``testsuite/pytests/synapses/test_eprop_bsshslm_2020_plasticity.py`` (nest-simulator,
``np.random.seed`` then weights, inputs, targets), so with ``seed=1`` and NEST's iteration count
they rebuild the very weights and spike trains behind NEST's asserted losses
(:data:`brainlearn.models.eprop.nest.NEST_LOSSES`). The tasks are those of Bellec et al.
(2020), Nat. Commun. 11:3625:
Fig. 2 (pattern generation, a sum of four sines) and Fig. 3 (evidence accumulation, after
Morcos & Harvey 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import ms

from brainlearn.models.eprop.params import EpropParams, EpropWeights

__all__ = ["Task", "sine_waves", "evidence_accumulation", "sine_waves_params",
           "evidence_accumulation_params", "TASKS"]

@dataclass
class Task:
    """Inputs, targets and initial weights of a task.

    Attributes
    ----------
    params : EpropParams
    weights : EpropWeights
        Initial weights (NEST's float32 draws, as float64).
    stim : ndarray (n_sequences * steps, n_in)
        Input spikes per step.
    target : ndarray (n_sequences * steps, n_out)
        Target output per step.
    labels : ndarray (n_sequences,) or None
        Class of every sequence (classification tasks).
    """

    params: EpropParams
    weights: EpropWeights
    stim: np.ndarray
    target: np.ndarray
    labels: np.ndarray | None = None


def sine_waves_params(**changes) -> EpropParams:
    """NEST's sine-wave regression parameters (eprop_iaf_bsshslm_2020, gradient descent)."""
    base = dict(n_in=100, n_rec=100, n_out=1, n_adaptive=0, sequence=1000 * ms,
                tau_m=30 * ms, tau_out=30 * ms, v_th=0.03, t_ref=0 * ms,
                regular_spike_arrival=False, loss="mse", optimizer="gradient_descent",
                eta=1e-4, average_gradient=False, batch_size=1)
    base.update(changes)
    return EpropParams(**base)


def evidence_accumulation_params(**changes) -> EpropParams:
    """NEST's evidence-accumulation parameters (50 LIF + 50 ALIF, Adam)."""
    base = dict(n_in=40, n_rec=100, n_out=2, n_adaptive=50, sequence=2250 * ms,
                learning_window=150 * ms, batch_size=1)
    base.update(changes)
    return EpropParams(**base)


def _initial(rng_normal, n_in, n_rec, n_out, w_out, feedback) -> EpropWeights:
    f32 = np.float32
    w_in = np.array(rng_normal(n_in, n_rec).T / np.sqrt(n_in), dtype=f32)
    w_rec = np.array(rng_normal(n_rec, n_rec).T / np.sqrt(n_rec), dtype=f32)
    np.fill_diagonal(w_rec, 0.0)
    return EpropWeights(w_in.astype(float), w_rec.astype(float), w_out(), feedback())


def sine_waves(n_iter: int = 5, seed: int = 1, **changes) -> Task:
    """The sine-wave regression task of NEST's test (and Bellec et al. 2020, Fig. 2).

    100 Poisson-like inputs (probability 0.05 per 1 ms step, the same frozen 1 s pattern every
    iteration) drive 100 LIF neurons; one readout learns a sum of four sines with periods 1000,
    500, 333 and 200 ms (random amplitudes 0.5-2 and phases), normalised to a maximum of 1.

    Parameters
    ----------
    n_iter : int
        Iterations (sequences; batch size 1).
    seed : int
        Seed of numpy's legacy generator (NEST's test: 1).
    **changes
        Parameters that differ from :func:`sine_waves_params`.
    """
    params = sine_waves_params(**changes)
    rs = np.random.RandomState(seed)
    n_in, n_rec, n_out, steps = params.n_in, params.n_rec, params.n_out, params.steps
    f32 = np.float32
    w = _initial(rs.randn, n_in, n_rec, n_out,
                 lambda: np.array(rs.randn(n_rec, n_out).T / np.sqrt(n_rec), f32).astype(float),
                 lambda: np.array(rs.randn(n_rec, n_out) / np.sqrt(n_rec), f32).astype(float))
    spikes = (rs.rand(steps, n_in) < 0.05)
    spikes[0] = 0    # NEST drops spikes arriving at the first step of a sequence
    periods = [1000, 500, 333, 200]
    amplitudes = rs.uniform(0.5, 2.0, size=4)
    phases = rs.uniform(0.0, 2.0 * np.pi, size=4)
    signal = sum(a * np.sin(np.linspace(phi, phi + 2.0 * np.pi * (steps // period), steps))
                 for a, phi, period in zip(amplitudes, phases, periods, strict=True))
    signal = signal - signal[0]
    signal /= max(np.abs(signal).max(), 1e-6)
    stim = np.tile(spikes.astype(float), (n_iter, 1))
    target = np.tile(signal[:, None], (n_iter, n_out))
    return Task(params, w, stim, target)


def evidence_accumulation(n_iter: int = 5, batch_size: int = 1, seed: int = 1,
                          **changes) -> Task:
    """The evidence-accumulation task of NEST's test (Bellec et al. 2020, Fig. 3).

    Seven 100 ms cues (50 ms apart) each excite one of two input populations (10 neurons,
    40 Hz); after a 1050 ms delay with background noise (the fourth population, 10 Hz
    throughout) a recall population fires for 150 ms, during which the network must report
    the side that had more cues (cross entropy over the recall window). Cue sides are drawn
    with probability 0.3 / 0.7, the majority side at random per sequence.

    Parameters
    ----------
    n_iter : int
        Iterations (weight updates); ``n_iter * batch_size`` sequences.
    batch_size : int
        Sequences per update.
    seed : int
        Seed of numpy's legacy generator (NEST's test: 1).
    **changes
        Parameters that differ from :func:`evidence_accumulation_params`.
    """
    params = evidence_accumulation_params(batch_size=batch_size, **changes)
    rs = np.random.RandomState(seed)
    n_in, n_rec, n_out, steps = params.n_in, params.n_rec, params.n_out, params.steps
    f32 = np.float32

    def glorot():
        scale = 1.0 / max(1.0, (n_rec + n_out) / 2.0)
        limit = np.sqrt(3.0 * scale)
        return np.array(rs.uniform(-limit, limit, size=(n_rec, n_out)).T, f32).astype(float)

    w = _initial(rs.randn, n_in, n_rec, n_out, glorot,
                 lambda: np.array(rs.randn(n_rec, n_out), f32).astype(float))
    n_cues, cue, spacing, recall, prob = 7, 100, 50, 150, 0.04
    n_pop = n_in // 4
    stims, labels = [], []
    for _ in range(n_iter):
        choices = np.array([0.3, 0.7], dtype=f32)
        idx = rs.choice([0, 1], batch_size)
        probs = np.zeros((batch_size, 2), dtype=f32)
        probs[:, 0] = choices[idx]
        probs[:, 1] = choices[1 - idx]
        cues = np.zeros((batch_size, n_cues), dtype=int)
        for b in range(batch_size):
            cues[b] = rs.choice([0, 1], n_cues, p=probs[b])
        rate = np.zeros((batch_size, steps, n_in))
        for b in range(batch_size):
            for c in range(n_cues):
                start = c * (cue + spacing) + spacing
                side = cues[b, c]
                rate[b, start:start + cue, side * n_pop:(side + 1) * n_pop] = prob
        rate[:, -recall:, 2 * n_pop:3 * n_pop] = prob
        rate[:, :, 3 * n_pop:] = prob / 4.0
        spikes = rate > rs.rand(rate.size).reshape(rate.shape)
        spikes[:, 0, :] = 0
        stims.append(spikes)
        labels.extend(np.sum(cues, axis=1) > n_cues // 2)
    labels = np.asarray(labels, dtype=int)
    stim = np.concatenate(stims).reshape(-1, n_in).astype(float)
    target = np.repeat(np.eye(n_out)[labels], steps, axis=0)
    return Task(params, w, stim, target, labels)


#: the tasks of ``brainlearn eprop train --task``
TASKS = {"sine-waves": sine_waves, "evidence-accumulation": evidence_accumulation}
