"""``brainlearn protocol``: run plasticity protocols and score rules against published data."""

from __future__ import annotations

import argparse

from brainlearn.commands._args import list_type

__all__ = ["register", "handle_list", "handle_run", "handle_table", "handle_nest"]

EPILOG = """examples:
  brainlearn protocol list
  brainlearn protocol run sjostrom2001 --rule triplet --preset visual-nn-minimal --out runs/sj
  brainlearn protocol table --out runs/table
"""

RUN_EPILOG = """NAME is a dataset (scored: results.csv, figure.png, score.txt) or an experiment (the
STDP window bi_poo, Song et al.'s song, the Clopath and Graupner-Brunel figures): `brainlearn
protocol list` shows them all.

examples:
  brainlearn protocol run sjostrom2001 --rule pair --out runs/sj_pair
  brainlearn protocol run sjostrom2001 --rule triplet --preset visual-aa-minimal --structure pfister --out runs/sj_aa
  brainlearn protocol run bi_poo --rule pair --out runs/window
  brainlearn protocol run song --duration 20 --out runs/song
  brainlearn protocol run clopath_frequency --out runs/clopath_freq
  brainlearn protocol run clopath_frequency --layout nest --out runs/clopath_nest   # NEST's test
"""

TABLE_EPILOG = """Every rule (triplet: every preset) on every dataset; Sjostrom also with Pfister &
Gerstner's 60-pair structure. Writes table.csv, table.md, cells.csv (E and run time per cell),
points.csv, facts.csv (the qualitative facts of Sjostrom, Wittenberg & Wang and Bi & Poo per
rule), window.csv (the Bi & Poo window's fitted tau+/tau- per rule, also columns of the table)
and figures/<rule>_<column>.png. Clopath and Graupner-Brunel run every column in one 0.1 ms
simulation each, with the silences between protocol units shortened (brainlearn.protocols.runners.gaps).
A rule that cannot run a column gets E = nan and the reason (cells.csv, under table.md).
With --data FILE: every rule on your own per-protocol table (columns frequency_train,
dt_train, n_stimuli_train, n_sweep, period_sweep, mean_epsp_ratio, sem_epsp_ratio, and
optionally sample_size, reference, notes); skipped rows go to skipped.csv with the reason.

examples:
  brainlearn protocol table --out runs/table
  brainlearn protocol table --out runs/table --fit     # also E after fitting the amplitudes
  brainlearn protocol table --data my_protocols.csv --rules pair,triplet --out runs/mine
  brainlearn protocol table --rules clopath,graupner-brunel --datasets nevian2006,froemke2006 --out runs/slow
"""



def handle_list(args: argparse.Namespace) -> int:
    """Run ``brainlearn protocol list``."""
    from brainlearn.protocols.runs import catalogue

    print(catalogue())
    return 0


def handle_run(args: argparse.Namespace) -> int:
    """Run ``brainlearn protocol run``."""
    from brian2 import second

    from brainlearn.protocols.runs import run_experiment

    print(run_experiment(args.name, args.out, rule=args.rule, preset=args.preset,
                         structure=args.structure, duration=args.duration * second,
                         seed=args.seed, device=args.device, layout=args.layout, rates=args.rates))
    return 0


def handle_table(args: argparse.Namespace) -> int:
    """Run ``brainlearn protocol table``."""
    from brainlearn.protocols.runs import rule_table

    print(rule_table(args.out, fit=args.fit, device=args.device, maxiter=args.maxiter,
                     progress=not args.quiet, rules=args.rules, data=args.data,
                     datasets=args.datasets, window=not args.no_window))
    return 0


NEST_EPILOG = """Runs NEST (pip install "brainlearn[nest]") and brainlearn side by side on inputs drawn
from --seed and prints both columns with the largest difference. Rules: pair (stdp_synapse),
pair-nearest (stdp_nn_symm_synapse), pair-pre-centered (stdp_nn_pre_centered_synapse),
pair-restricted (stdp_nn_restr_synapse), triplet (stdp_triplet_synapse): the weight after each of
--points presynaptic spikes; clopath (clopath_synapse on aeif_psc_delta_clopath): --points pairings
at random lags (-20..20 ms) and frequencies (1..50 Hz), on the paper's scale.

examples:
  brainlearn protocol nest pair-restricted --seed 3
  brainlearn protocol nest clopath --seed 1 --points 4
  brainlearn protocol nest all --seed 5 --csv docs/results/protocols/nest_validation.csv
"""


def handle_nest(args: argparse.Namespace) -> int:
    """Run ``brainlearn protocol nest``."""
    import os

    os.environ.setdefault("PYNEST_QUIET", "1")
    try:
        import nest  # noqa: F401
    except ImportError:
        print('NEST is not installed: pip install "brainlearn[nest]"')
        return 2
    from brainlearn.protocols.nest_oracle import compare_with_nest, validation_table

    if args.rule == "all":
        from brainlearn.atomic import atomic_path

        table = validation_table(seed=args.seed)
        print(table.to_string(index=False))
        if args.csv:
            with atomic_path(args.csv) as tmp:
                table.to_csv(tmp, index=False)
        return 0
    print(compare_with_nest(args.rule, seed=args.seed, points=args.points))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``protocol`` command with ``list``, ``run`` and ``table``."""
    parser = subparsers.add_parser(
        "protocol",
        help="plasticity protocols (STDP window, Sjostrom, Song) scored against published data",
        description="Run biological plasticity protocols and score learning rules against data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="protocol_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    lst = sub.add_parser("list", help="list datasets, experiments and rules",
                         description="List the bundled datasets (with sources), experiments and rules.",
                         epilog="examples:\n  brainlearn protocol list\n",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    lst.set_defaults(func=handle_list)

    run = sub.add_parser("run", help="run one dataset or experiment with one rule",
                         description="Run one protocol into a run directory: results.csv, figure.png, score.txt, config.json, metrics.json and the imposed spikes (or, for song, the final weights) for `brainlearn analyze`.",
                         epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("name", help="dataset or experiment (see `brainlearn protocol list`)")
    run.add_argument("--rule", default="pair",
                     help="pair, pair-nearest, pair-multiplicative, triplet, diehl-cook, clopath, "
                          "graupner-brunel (default pair)")
    run.add_argument("--preset", default=None, help="triplet preset (default visual-aa-minimal)")
    run.add_argument("--structure", choices=["bursts", "pfister"], default="bursts",
                     help="Sjostrom structure: the paper's bursts or Pfister's 60 pairs (default bursts)")
    run.add_argument("--duration", type=float, default=100.0, help="song: simulated seconds (default 100)")
    run.add_argument("--seed", type=int, default=0, help="song, gb_*: random seed (default 0)")
    run.add_argument("--device", choices=["runtime", "cpp_standalone"], default="cpp_standalone",
                     help="song: Brian2 device (default cpp_standalone)")
    run.add_argument("--layout", choices=["paper", "nest"], default="paper",
                     help="clopath_frequency: the paper's figure, or NEST's test_clopath_synapse.py (its "
                          "neuron, trailing pre spike, readout at the last pre spike, 29 ms settle, "
                          "NEST's delay convention; default rates 10,30,50)")
    run.add_argument("--rates", default=None, type=list_type(float),
                     help="clopath_frequency: pairing frequencies in Hz (e.g. 10,30,50)")
    run.add_argument("--out", required=True, help="output directory")
    run.set_defaults(func=handle_run)

    table = sub.add_parser("table", help="score every rule on every dataset",
                           description="Score every rule and preset on every dataset; write table.csv/.md.",
                           epilog=TABLE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    table.add_argument("--out", required=True, help="output directory")
    table.add_argument("--fit", action="store_true", help="also fit each rule's amplitudes (slower)")
    table.add_argument("--device", choices=["runtime", "cpp_standalone"], default="cpp_standalone",
                       help="device for --fit (default cpp_standalone: compile once, fast generations)")
    table.add_argument("--maxiter", type=int, default=30, help="--fit: differential-evolution generations")
    table.add_argument("--quiet", action="store_true", help="no progress bar")
    table.add_argument("--data", default=None, metavar="FILE",
                       help="score on your own per-protocol CSV (plastyfire's paired_recordings.csv format) "
                            "instead of the bundled datasets; rows with pharmacology are reported and skipped")
    table.add_argument("--rules", default=None, type=list_type(str),
                       help="comma-separated rules or labels (e.g. pair,triplet:visual-nn-full,clopath); "
                            "default: all")
    table.add_argument("--datasets", default=None, type=list_type(str),
                       help="comma-separated columns (e.g. nevian2006,sjostrom2001:pfister); default: all")
    table.add_argument("--no-window", action="store_true", help="leave out the Bi & Poo window columns")
    table.set_defaults(func=handle_table)

    nest_cmd = sub.add_parser("nest", help="a rule against NEST itself, live, at a seed",
                              description="Run a rule in NEST and in brainlearn on the same seeded input.",
                              epilog=NEST_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    nest_cmd.add_argument("rule", choices=["pair", "pair-nearest", "pair-pre-centered", "pair-restricted",
                                           "triplet", "clopath", "all"],
                          help="the rule to compare; all: every rule, one row each (--csv writes them)")
    nest_cmd.add_argument("--seed", type=int, default=0, help="seed of the drawn input (default 0)")
    nest_cmd.add_argument("--points", type=int, default=None,
                          help="presynaptic spikes shown (default 20) or Clopath pairings (default 4)")
    nest_cmd.add_argument("--csv", default=None, metavar="FILE",
                          help="with all: write the table (docs/results/protocols/nest_validation.csv)")
    nest_cmd.set_defaults(func=handle_nest)
