"""``brainlearn export``: a run's spikes to Parquet, CSV, SONATA HDF5, NWB or Neo."""

from __future__ import annotations

import argparse

__all__ = ["register", "handler"]

EPILOG = """examples:
  brainlearn export runs/dc400 --format nwb                  # -> runs/dc400/export/spikes.nwb
  brainlearn export runs/dc400 --format sonata --out s.h5    # SONATA spike file
  brainlearn export runs/dc400 --format neo                  # Neo .mat, for Elephant

Every exported spike reads back bit for bit with brainlearn.analysis.read_spikes. The
--out file must end in the format's extension; an existing one is kept unless --force. A
run that was never evaluated has no spikes yet: evaluate it first.
"""

FORMATS = ("parquet", "csv", "sonata", "nwb", "neo")


def register(subparsers) -> None:
    """Add the ``export`` command."""
    parser = subparsers.add_parser(
        "export",
        help="export a run's spikes (parquet, csv, sonata, nwb, neo)",
        description="Export the evaluation spikes of a run directory to an analysis format.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory holding spikes.parquet")
    parser.add_argument("--format", required=True, choices=FORMATS, help="output format")
    parser.add_argument("--out", metavar="FILE", help="output file (default RUN_DIR/export/spikes.<ext>)")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument("--chunk-size", type=int, default=1_000_000, help="rows per streamed chunk")
    parser.set_defaults(func=handler)


def handler(args) -> int:
    """Export and print the written path."""
    from brainlearn.analysis import export_run
    from brainlearn.models.contract import evaluate_command

    path = export_run(args.run_dir, args.format, args.out, chunk_size=args.chunk_size,
                      force=args.force, evaluate_command=evaluate_command(args.run_dir))
    print(path)
    return 0
