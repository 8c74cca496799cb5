"""The ``gafkd`` command: ``gafkd bench`` (speed and cost), ``gafkd status`` (are results current?)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .bench.budget import QUICK_BUDGET
from .config import read_config_file
from .folds import fold_lines
from .errors import ConfigError


STATUS_LINES = 20  # lines of each list shown by default


def _merged(paths: list[str]) -> dict:
    """config.yaml with overlays merged in order, as Snakemake's --configfile does."""
    from snakemake.utils import update_config

    config: dict = {}
    for path in paths:
        update_config(config, read_config_file(path) or {})
    return config


def load_study(paths: list[str]):
    """The :class:`~gafkd.plan.study.Study` of config.yaml and its overlays: the workflow's own plan of them."""
    from .plan.study import Study

    return Study.from_config(_merged(paths))


def load_config(paths: list[str]) -> dict:
    """The config as the workflow (and its Study) sees it: checked, defaults filled in, a dataset variant per fold."""
    from .plan.study import checked_config

    return checked_config(_merged(paths))[0]


def _bench(args) -> int:
    from .bench import speed as bench

    config = load_config(args.config) if args.config else None
    if args.cuda_check:
        return _device_check(args, config)
    if args.agreement:
        return _agreement(args, config)
    if args.pack_widths:
        return _pack_widths(args, config)
    report = bench.run(quick=args.quick, device=args.device, config=config, threads=args.threads, axes=args.axes,
                       budget=args.budget)
    return _show(bench.format_report(report), report, args.json)


def _show(text: str, report: dict, json_path) -> int:
    """Print a measurement's table and, when asked, write its numbers as JSON."""
    from .bench.speed import write_json

    print(text)
    if json_path:
        write_json(report, json_path)
        print(f"\nwrote {json_path}")
    return 0


def _device_check(args, config) -> int:
    from .bench import device_check

    report = device_check.run_check(config or load_config(["config.yaml"]), device=args.device, threads=args.threads,
                                    budget=args.budget, json_path=args.json)  # a line and the JSON after each section
    _show(device_check.format_report(report), report, args.json)
    return 0 if report["ok"] else 1


def _pack_widths(args, config) -> int:
    from .bench import widths

    report = widths.measure(config or load_config(["config.yaml"]), device=args.device, threads=args.threads,
                            budget=widths.BUDGET if args.budget is None else args.budget)
    widths.write_overlay(report, args.pack_widths)
    return _show(f"{widths.format_report(report)}\n\nwrote {args.pack_widths}", report, args.json)


def _agreement(args, config) -> int:
    import os

    import torch

    from .bench import agreement

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    training = (config or load_config(["config.yaml"]))["training"]
    compare = agreement.run_packs if args.agreement == "packs" else agreement.run
    seeds = range(args.seeds or (8 if args.agreement == "packs" else 3))
    report = compare(training, epochs=args.epochs, seeds=seeds, device=device,
                     threads=args.threads or os.cpu_count() or 1)
    return _show(agreement.format_report(report), report, args.json)


def _status(args) -> int:
    from .execution.status import StatusError, check_results

    study = load_study(args.config)  # names a malformed file's line, or a bad key, before Snakemake runs
    try:
        status = check_results(study, args.config, Path(args.directory), args.snakefile, args.profile)
    except StatusError as error:
        print(f"gafkd status: Snakemake's dry run failed:\n{error}", file=sys.stderr)
        return 2
    if status.up_to_date:
        print("up to date: nothing would run")
    else:
        print("Why (Snakemake's reasons; where settings changed, which):")
        _print_capped(status.causes, args.all)
        print("\nWhat would run (Snakemake's jobs; a training job trains a pack of runs):")
        print(status.table())
    if fold_lines(study.config):
        print("\nFolds (each a dataset variant; the report gathers a dataset's folds into one section):")
        _print_capped(fold_lines(study.config), args.all)
    if status.dormant:
        print("\nMissing, though their pack's manifest lists them (Snakemake sees only the manifest, so it does not "
              "remake them; delete the manifest, or `snakemake --forcerun` its rule, to train that pack again):")
        _print_capped(status.dormant, args.all)
    return 0 if status.up_to_date and not status.dormant else 1


def _print_capped(lines: list[str], everything: bool) -> None:
    shown = lines if everything else lines[:STATUS_LINES]
    for line in shown:
        print(f"  {line}")
    if len(shown) < len(lines):
        print(f"  … and {len(lines) - len(shown)} more (--all lists them)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gafkd", description=__doc__)
    parser.add_argument("--version", action="version", version=f"gafkd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("bench", help="measure speeds and ratios on this machine; estimate the study")
    bench.add_argument("--quick", action="store_true",
                       help=f"keep to a {QUICK_BUDGET:g}-second budget (sections sized by their first timings; what "
                            "does not fit is listed as skipped)")
    bench.add_argument("--budget", type=float, metavar="SECONDS", default=None,
                       help="time for the whole bench, --cuda-check or --pack-widths; each section (or model) gets "
                            "a share of what is left")
    bench.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    bench.add_argument("--axes", type=int, default=3,
                       help="signal channels of the timed windows (3: GENEActiv's x, y, z; 40: the group's PAMAP2)")
    bench.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    bench.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    bench.add_argument("--config", nargs="*", default=["config.yaml"],
                       help="config files for the study estimate (default: config.yaml)")
    bench.add_argument("--agreement", nargs="?", const="modes", choices=["modes", "packs"],
                       help="instead: train and compare accuracies — modes: exact vs channels_last vs bf16; "
                            "packs: the members of one fused pack vs the same runs trained separately")
    bench.add_argument("--pack-widths", metavar="FILE",
                       help="measure the pack width that pays per role and model of the config on this device, and "
                            "write it as a config overlay (packing.measured) for packing: auto")
    bench.add_argument("--cuda-check", action="store_true",
                       help="instead: the device check — every CUDA branch (cuda tests, memory vs estimate, pack speed "
                            "by width and mode, teacher logits, the study estimate); small sizes on a CPU")
    bench.add_argument("--epochs", type=int, default=30, help="--agreement: epochs per run")
    bench.add_argument("--seeds", type=int, default=None, help="--agreement: seeds (default 3; packs: 8, one pack)")
    status = commands.add_parser("status", help="what would rerun, per stage, and why (missing results, or made under other settings)")
    status.add_argument("--config", nargs="+", default=["config.yaml"], help="config.yaml and overlays, in order")
    status.add_argument("--directory", default=".", help="the workflow's working directory")
    status.add_argument("--snakefile", default=None, help="the workflow (default: Snakefile in --directory)")
    status.add_argument("--profile", default=None, help="a workflow profile to plan with (e.g. profiles/slurm)")
    status.add_argument("--all", action="store_true", help=f"list every file (default: the first {STATUS_LINES} of each list)")
    args = parser.parse_args(argv)
    try:
        return {"bench": _bench, "status": _status}[args.command](args)
    except ConfigError as error:
        print(f"gafkd: config: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
