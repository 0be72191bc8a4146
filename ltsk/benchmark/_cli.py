"""Command line of ``python -m ltsk.benchmark``."""

import argparse
import sys

from ltsk.benchmark._protocols import DATASETS, load_protocol

__all__ = ["build_parser", "main"]


def _positive_float(text):
    value = float(text)
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"must be a number >= 1, got {text!r}")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the benchmark command."""
    datasets = "\n".join(
        f"  {name:<18} {spec.description}" for name, spec in DATASETS.items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m ltsk.benchmark",
        description=(
            "Train a network once with plain (instance-balanced, cross-entropy) "
            "training, then compare re-balanced heads on its frozen features "
            "(cRT, NCM, tau-norm, LWS, post-hoc logit adjustment, DisAlign, MARC) "
            "with jointly trained long-tail variants and two-stage recipes "
            "(weight balancing, MiSLAS). Reports Many / Medium / "
            "Few / All balanced accuracy on a balanced test split; every "
            "hyperparameter is chosen on a disjoint balanced validation split."
        ),
        epilog=f"datasets:\n{datasets}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dataset",
        default="digits-lt",
        choices=sorted(DATASETS),
        metavar="NAME",
        help="data set protocol (default: digits-lt, fully offline); see below",
    )
    parser.add_argument(
        "--data-home",
        default=None,
        help="directory with the data files (default: $LTSK_DATA)",
    )
    parser.add_argument(
        "--imbalance-ratio",
        type=_positive_float,
        default=None,
        metavar="R",
        help="rho = n_max / n_min of the training part (default per data set)",
    )
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        metavar="E",
        help="joint training epochs (default per data set)",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument(
        "--plot", default=None, help="save weight-norm and per-class plots here"
    )
    parser.add_argument(
        "--methods",
        default="all",
        choices=("all", "decoupled"),
        help=(
            "'decoupled' skips the extra jointly trained variants and the "
            "second stages on their features (faster)"
        ),
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress messages on stderr"
    )
    return parser


def main(argv=None) -> int:
    """Run the benchmark; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        protocol = load_protocol(
            args.dataset,
            data_home=args.data_home,
            imbalance_ratio=args.imbalance_ratio,
            seed=args.seed,
        )
    except FileNotFoundError as exc:
        print(f"ltsk.benchmark: {exc}", file=sys.stderr)
        return 2
    if args.epochs is not None:
        protocol.epochs = args.epochs

    from ltsk.benchmark._report import format_table, save_figure, write_json
    from ltsk.benchmark._run import run_benchmark

    results = run_benchmark(
        protocol,
        seed=args.seed,
        methods=args.methods,
        progress=not args.quiet,
    )
    print(format_table(results["rows"], title=results["title"]))
    if args.out:
        write_json(args.out, {k: v for k, v in results.items() if k != "figure"})
        print(f"\nresults written to {args.out}")
    if args.plot:
        save_figure(args.plot, results["figure"])
        print(f"figure written to {args.plot}")
    return 0
