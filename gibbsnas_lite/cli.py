"""The ``gibbsnas-lite`` command line.

gibbsnas-lite notebooks run [--profile smoke|cpu|full] [--only 01,02] [-p key=value] [--out DIR]

gibbsnas-lite search --space nb201 --dataset cifar10 --strategy gibbs2 --profile full --out runs/g2
gibbsnas-lite search --resume runs/g2

gibbsnas-lite sweep --strategies gibbs2,darts-v1 --seeds 0-4 --profile cpu --workers 2 --out runs/sweep
gibbsnas-lite sweep --out runs/sweep        # finish (or re-read) the sweep recorded there

gibbsnas-lite train --genotype DARTS_V2 --dataset cifar10 --profile full --out runs/train-v2 --download
gibbsnas-lite train --resume runs/train-v2

The options of ``search`` and ``train`` that set a config field are built from the fields of
:class:`~gibbsnas_lite.search.SearchConfig` and :class:`~gibbsnas_lite.train.TrainConfig` declared
with :func:`gibbsnas_lite.runs.option` (help text, flag and choices in the field's metadata): one
such field is its option, its refusal with ``--resume`` and its value for ``make_config``
(:func:`add_config_options`, :func:`config_values`). The others (``--set``, ``--out``,
``--resume``, ``--no-progress``, and ``notebooks``'s and ``sweep``'s) are written out here.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any

from . import __version__
from .runs import PROFILES, parse_settings  # parse_settings: re-exported, as before
from .search.config import DATASETS, SearchConfig, make_config
from .search.config import PROFILES as SEARCH_PROFILES
from .search.registry import strategy_names


# ------------------------------------------------------------------------------- config options
def config_options(config_class) -> list[dataclasses.Field]:
    """The fields of a config dataclass that are command-line options (declared with
    :func:`gibbsnas_lite.runs.option`: ``"cli"`` in their metadata), in the dataclass's order."""
    return [f for f in dataclasses.fields(config_class) if "cli" in f.metadata]


def option_flag(field: dataclasses.Field) -> str:
    """``--batch-size`` for ``batch_size``, or the flag the field names (``--cells``)."""
    return field.metadata["cli"]["flag"] or "--" + field.name.replace("_", "-")


def add_config_options(parser: argparse.ArgumentParser, config_class) -> None:
    """Add one option per field of :func:`config_options` to ``parser``, in the dataclass's order.

    Help text, flag and choices come from the field's metadata (a function for choices is called
    now: the strategy registry as it is). The option's type is the field's annotation, ``int``,
    ``float`` or ``str`` (also with ``| None``); a ``bool`` field is an on/off flag (``--amp``).
    The value is stored under the field's name and is ``None`` when the option is not given (a
    flag too), so the profile's value stands.
    """
    annotations = typing.get_type_hints(config_class)
    for field in config_options(config_class):
        cli = field.metadata["cli"]
        kind = annotations[field.name]
        if kind is bool:
            parser.add_argument(
                option_flag(field), action="store_true", default=None, dest=field.name, help=cli["help"]
            )
            continue
        if type(None) in typing.get_args(kind):  # float | None -> float
            kind = next(t for t in typing.get_args(kind) if t is not type(None))
        choices = cli["choices"]() if callable(cli["choices"]) else cli["choices"]
        parser.add_argument(
            option_flag(field), type=kind, choices=choices, default=None, dest=field.name, help=cli["help"]
        )


def config_values(args: argparse.Namespace, config_class) -> dict[str, Any]:
    """``{field name: value}`` of the config's options as parsed (``None``: not given)."""
    return {f.name: getattr(args, f.name) for f in config_options(config_class)}


def refuse_with_resume(args: argparse.Namespace, config_class, others: dict[str, str]) -> None:
    """--resume takes a run's settings from its checkpoint: name every run option that was given too.

    Run options are the config's options except those declared ``with_resume`` (``--device``),
    and ``others`` (``{flag: dest}``: the hand-written ones, e.g. ``--out``).
    """
    fields = config_options(config_class)
    run_options = {option_flag(f): f.name for f in fields if not f.metadata["cli"]["with_resume"]} | others
    given = [flag for flag, dest in run_options.items() if getattr(args, dest) not in (None, [])]  # --set: []
    if given:
        allowed = [option_flag(f) for f in fields if f.metadata["cli"]["with_resume"]] + ["--no-progress"]
        raise ValueError(
            f"--resume continues the run with the settings saved in its checkpoint; "
            f"drop {', '.join(given)} (only {' and '.join(allowed)} go with --resume)"
        )


# ------------------------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    """The ``gibbsnas-lite`` parser. ``search``'s and ``train``'s config options come from the fields of
    ``SearchConfig`` and ``TrainConfig`` declared with ``runs.option`` (:func:`add_config_options`)."""
    parser = argparse.ArgumentParser(
        prog="gibbsnas-lite",
        description="GibbsNAS (Xue et al., AAAI 2021) as a notebook-first kit.",
    )
    parser.add_argument("--version", action="version", version=f"gibbsnas-lite {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    nb = commands.add_parser("notebooks", help="run the course notebooks headless (papermill)")
    nb_commands = nb.add_subparsers(dest="notebooks_command", metavar="ACTION")
    run = nb_commands.add_parser("run", help="execute notebooks, write executed copies and a summary")
    run.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="papermill 'profile' parameter (default: each notebook's own default)",
    )
    run.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 01,04")
    run.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="extra papermill parameter (repeatable); VALUE parsed as JSON if it parses",
    )
    run.add_argument("--out", default="outputs/notebooks", help="folder for executed copies (default: %(default)s)")
    run.add_argument("--notebooks", default=None, help="folder holding the notebooks (default: ./notebooks)")
    run.add_argument("--stop-on-error", action="store_true", help="stop at the first failing notebook")
    search = commands.add_parser(
        "search",
        help="run a search (GibbsNAS or a baseline); writes checkpoint, history, summary",
        description="Profiles are presets: smoke (seconds, synthetic data), cpu (minutes on 2 cores, "
        "Fashion-MNIST, reduced supernet), cpu-deep (the cpu stage at NAS-Bench-201's depth, 5 cells "
        "per stage, 20 epochs, on the embedded Fashion-MNIST subset: where DARTS collapses; "
        "docs/deep_stage.md), full (the paper's protocol, GPU). "
        "Explicit options override the profile.",
    )
    add_config_options(search, SearchConfig)  # --strategy ... --amp: SearchConfig's option fields
    search.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help="any SearchConfig field, e.g. --set image_size=16 --set clip_std=2 "
        "(VALUE is read as a Python literal: 16, 0.5, None, True; else a string)",
    )
    search.add_argument("--out", default=None, help="run folder (default: runs/<strategy>-<space>-<dataset>-s<seed>)")
    search.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue the run in DIR from its checkpoint, with its saved settings",
    )
    search.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_train_parser(commands)
    _add_sweep_parser(commands)
    return parser


def _add_sweep_parser(commands) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="many searches (strategies x datasets x seeds) on Ray, resumable; a results table",
        description="Runs every trial (one `search` each, in OUT/trials/<name>) on a local Ray started here, "
        "or on a Ray cluster (--address or RAY_ADDRESS). Run the same command again after a kill: "
        "finished trials are kept, unfinished ones resume from their last epoch. Needs Ray: "
        "pip install -e '.[sweep]'. Guide: docs/sweeps.md.",
    )
    sweep.add_argument("--strategies", default=None, help=f"comma-separated, from {', '.join(strategy_names())}")
    sweep.add_argument("--seeds", default=None, help="e.g. 0-4 or 0,1,2 (default: 0)")
    sweep.add_argument(
        "--datasets", default=None, help=f"comma-separated, from {', '.join(DATASETS)} (default: the profile's)"
    )
    sweep.add_argument("--profile", choices=SEARCH_PROFILES, default=None, help="default: smoke")
    sweep.add_argument(
        "-o",
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help="a SearchConfig field for every trial, e.g. -o epochs=3 (as `search --set`)",
    )
    sweep.add_argument(
        "--file", default=None, help="a JSON or YAML sweep file (docs/sweeps.md) instead of the grid options"
    )
    sweep.add_argument("--out", default="runs/sweep", help="sweep folder (default: %(default)s)")
    sweep.add_argument(
        "--workers",
        type=int,
        default=None,
        help="trials at once on the local Ray (default: CPU cores // --threads); 0: no Ray, one trial after "
        "another in this process",
    )
    sweep.add_argument("--threads", type=int, default=1, help="torch threads (and Ray CPUs) per trial (default: 1)")
    sweep.add_argument(
        "--address", default=None, help="a running Ray cluster (default: $RAY_ADDRESS, else a local one)"
    )
    sweep.add_argument("--gpus-per-trial", type=float, default=None, help="default: 1 where Ray sees GPUs, else 0")
    sweep.add_argument("--retries", type=int, default=3, help="restarts of a trial whose worker died (default: 3)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_train_parser(commands) -> None:
    from .train import TrainConfig

    train = commands.add_parser(
        "train",
        help="train a DARTS-space genotype's evaluation network from scratch (DARTS protocol)",
        description="Profiles are presets: full = DARTS's CIFAR-10 evaluation protocol (20 cells, C=36, "
        "600 epochs, batch 96, SGD lr 0.025 cosine to 0, momentum 0.9, weight decay 3e-4, "
        "cutout 16, drop path 0.2 ramped linearly, auxiliary weight 0.4, grad clip 5; GPU); "
        "cpu = Fashion-MNIST, 5 cells, C=8, 2 epochs on 2,048 images; smoke = synthetic, seconds. "
        "Explicit options override the profile. See docs/train.md.",
    )
    add_config_options(train, TrainConfig)  # --genotype ... --download: TrainConfig's option fields
    train.add_argument("--out", default=None, help="run folder (default: runs/train-<dataset>-s<seed>)")
    train.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue the training run in DIR from its checkpoint, with its saved settings",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")


def train_config(args: argparse.Namespace):
    """The :class:`~gibbsnas_lite.train.TrainConfig` of a ``train`` command line (without --resume):
    the profile's preset, then the options given."""
    from .train import TrainConfig, make_train_config

    options = config_values(args, TrainConfig)
    return make_train_config(options.pop("profile") or "full", options.pop("genotype") or "DARTS_V2", **options)


def run_train_command(args) -> int:
    from .train import TrainConfig, train_network

    if args.resume:
        refuse_with_resume(args, TrainConfig, others={"--out": "out"})
        device = TrainConfig(device=args.device) if args.device else None
        result = train_network(device, resume=args.resume, progress=not args.no_progress, echo=print)
    else:
        config = train_config(args)
        out = args.out or f"runs/train-{config.dataset}-s{config.seed}"
        result = train_network(config, out_dir=out, progress=not args.no_progress, echo=print)
    print(f"genotype: {result.genotype}")
    print(f"params: {result.params_m:.3f} M (without the auxiliary head)")
    if result.test_acc is not None:
        print(f"test accuracy: {result.test_acc:.2f} % after {len(result.history)}/{result.config.epochs} epochs")
    print(f"run folder: {result.out_dir}")
    return 0


def search_config(args: argparse.Namespace) -> SearchConfig:
    """The :class:`~gibbsnas_lite.search.SearchConfig` of a ``search`` command line (without
    --resume): the profile's preset and the strategy's defaults, then the options and ``--set``s given."""
    options = config_values(args, SearchConfig)
    for key, value in parse_settings(args.settings).items():
        if options.get(key) is not None and options[key] != value:
            raise ValueError(
                f"--set {key}={value!r} contradicts the option given for {key} ({options[key]!r}); give one of them"
            )
        options[key] = value
    return make_config(options.pop("strategy") or "gibbs2", options.pop("profile") or "smoke", **options)


def run_search_command(args) -> int:
    from .search import run_search

    if args.resume:
        refuse_with_resume(args, SearchConfig, others={"--set": "settings", "--out": "out"})
        device = SearchConfig(device=args.device) if args.device else None
        result = run_search(device, resume=args.resume, progress=not args.no_progress, echo=print)
    else:
        config = search_config(args)
        out = args.out or f"runs/{config.strategy}-{config.space}-{config.dataset}-s{config.seed}"
        result = run_search(config, out_dir=out, progress=not args.no_progress, echo=print)
    summary = result.summary()
    if result.stopped_early:
        print(f"stopped after epoch {summary['epochs_done']}/{result.config.epochs}")
    print(f"arch: {summary['arch']}")
    for key, value in summary["benchmark"].items():
        print(f"  NAS-Bench-201 {key}: {value:.2f}")
    print(f"run folder: {result.out_dir}")
    return 0


def run_sweep_command(args) -> int:
    from pathlib import Path

    from .course.seed_study import markdown_table
    from .sweep import grid, load_sweep_file, load_trials, run_sweep, summarize

    grid_given = args.strategies or args.seeds or args.datasets or args.profile or args.settings
    if args.file and grid_given:
        raise ValueError("give either --file or the grid options (--strategies, --seeds, --datasets, --profile, -o)")
    if args.file:
        trials = load_sweep_file(args.file)
    elif args.strategies:
        trials = grid(
            args.strategies, args.seeds or "0", args.datasets, args.profile or "smoke", parse_settings(args.settings)
        )
    elif grid_given:
        raise ValueError(
            "--strategies is needed with --seeds/--datasets/--profile/-o (e.g. --strategies gibbs2,darts-v1)"
        )
    elif (Path(args.out) / "sweep.json").is_file():
        trials = load_trials(args.out)
    else:
        raise ValueError(
            f"nothing to run: give --strategies (e.g. --strategies gibbs2,darts-v1 --seeds 0-2) or "
            f"--file, or --out a sweep folder ({args.out} holds none)"
        )
    sweep = run_sweep(
        trials,
        args.out,
        workers=args.workers,
        address=args.address,
        threads=args.threads,
        gpus_per_trial=args.gpus_per_trial,
        retries=args.retries,
        progress=not args.no_progress,
        echo=print,
    )
    for dataset in sorted({r["dataset"] for r in sweep.rows if r.get("status") == "ok" and r.get("benchmark")}):
        print(f"\n{dataset}:\n{markdown_table(summarize(sweep.rows, dataset))}")
    for row in sweep.failed:
        print(f"failed: {row['name']}: {row['error']}")
    print(
        f"\n{len(sweep.rows) - len(sweep.failed)} of {len(sweep.rows)} trials ok in {sweep.seconds:.1f} s; "
        f"results: {sweep.folder / 'results.csv'}, {sweep.folder / 'results.json'}"
    )
    return 1 if sweep.failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "notebooks" and args.notebooks_command == "run":
        try:
            import papermill  # noqa: F401 - the runner's engine, in the course extra

            from .course.notebooks import main_run
        except ModuleNotFoundError as err:
            print(
                f"gibbsnas-lite notebooks: error: {err.name} is not installed; running the notebooks needs the "
                f"course extra: pip install 'gibbsnas-lite[course]' (or `make run`)",
                file=sys.stderr,
            )
            return 2
        try:
            return main_run(args)
        except (ValueError, FileNotFoundError) as err:
            print(f"gibbsnas-lite notebooks: error: {err}", file=sys.stderr)
            return 2
    if args.command == "search":
        try:
            return run_search_command(args)
        except (ValueError, FileNotFoundError, FileExistsError) as err:
            print(f"gibbsnas-lite search: error: {err}", file=sys.stderr)
            return 2
    if args.command == "sweep":
        try:
            return run_sweep_command(args)
        except (ValueError, FileNotFoundError, ImportError) as err:
            print(f"gibbsnas-lite sweep: error: {err}", file=sys.stderr)
            return 2
    if args.command == "train":
        try:
            return run_train_command(args)
        except (ValueError, FileNotFoundError, FileExistsError) as err:
            print(f"gibbsnas-lite train: error: {err}", file=sys.stderr)
            return 2
    if args.command == "notebooks":
        parser.parse_args(["notebooks", "--help"])
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
