"""The `visionpath` command: a thin layer over the Python API. Every flag is a keyword of the function it calls,
and a flag left out is not passed at all, so the API's defaults are the only defaults."""
from __future__ import annotations

import argparse
import inspect
import os
import re
import shlex
import sys
import tempfile
import time
import traceback
from argparse import SUPPRESS
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Callable

from .config import TrainConfig, default_text, option_of, setting_type
from .console import printable, say, silent
from .data.builtin import DATASETS, dataset_cache_dir
from .data.cache import clear_cache, describe_cache, prune_cache, size_text, verify_cache
from .data.check import check_data
from .data.dedupe import dedupe_folder
from .data.split import split_folder
from .devices import describe_machine, keep_freed_memory
from .data.download import cache_home
from .errors import AlreadySaid, VisionpathError
from .export import export
from .i18n import LANGUAGES, tr, use
from .inside import explain, filters, show
from .lr_find import lr_find
from .files import atomic_write
from .models import MODELS, count_parameters, create_model
from .options import Declared, Option, declared, flag
from .predict import predict
from .report import compare_runs
from .run import Run
from .serve import serve
from .studio import studio
from .train import train
from .tune import tune
from .version import __version__

TRAIN_EXAMPLES = """examples:
  visionpath train mnist --model mlp --epochs 5 --batch-size 128
  visionpath train cifar10 --model resnet9                # the fast recipe for small colour photos
  visionpath train cifar10 --model cnn --augment none --epochs 30   # watch a CNN overfit
  visionpath train cifar10 --model cnn --augment standard --dropout 0.3 --weight-decay 5e-4 --early-stopping 5
  visionpath train mnist --data-dir ../shared/data        # local copies of the data, no download
  visionpath train path/to/photos                         # a folder of class subfolders: pretrained, fine-tuned
  visionpath train --resume runs/mnist-mlp-1              # continue an interrupted run"""

TUNE_EXAMPLES = """examples:
  visionpath tune my_photos/ --trials 30 --timeout 1h      # the model's default space; bad trials pruned early
  visionpath tune cifar10 --model resnet9 --space space.toml --workers 2
  visionpath tune my_photos/ --storage postgresql://host/studies --study flowers   # several machines, one study
  visionpath tune --resume runs/tune-my_photos-1           # continue a study
  visionpath tune --report runs/tune-my_photos-1           # draw study.html again, at any time

space.toml, one line a setting (any setting of `visionpath train`; the others given here are fixed):
  lr = {low = 1e-4, high = 1e-2, log = true}
  augment = ["none", "standard"]"""


class Parser(argparse.ArgumentParser):
    """argparse, whose own errors (an unknown flag, a bad number) are said in the learner's language too."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, tr("{prog}: error: {message}", prog=self.prog, message=argparse_words(message)) + "\n")


def argparse_words(message: str) -> str:
    """One of argparse's English sentences in the language visionpath speaks now (unknown ones as they are)."""
    def argument(m):
        return tr("argument {name}: {message}", name=m["name"], message=argparse_words(m["message"]))
    sentences = [  # as argparse writes them (Python 3.10-3.13)
        (r"argument (?P<name>[^:]+): (?P<message>.*)", argument),
        (r"unrecognized arguments: (?P<args>.*)", lambda m: tr("unrecognized arguments: {args}", args=m["args"])),
        (r"the following arguments are required: (?P<args>.*)",
         lambda m: tr("the following arguments are required: {args}", args=m["args"])),
        (r"invalid (?P<type>\w+) value: (?P<value>.*)", lambda m: tr("invalid {type} value: {value}", **m.groupdict())),
        (r"invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)",
         lambda m: tr("invalid choice: {value} (choose from {choices})", **m.groupdict())),
        (r"expected one argument", lambda m: tr("expected one argument")),
        (r"expected at least one argument", lambda m: tr("expected at least one argument")),
        (r"ambiguous option: (?P<option>\S+) could match (?P<matches>.*)",
         lambda m: tr("ambiguous option: {option} could match {matches}", **m.groupdict())),
    ]
    for pattern, words in sentences:
        if (m := re.fullmatch(pattern, message, re.S)) is not None:
            return words(m)
    return message


def language_asked(argv: list[str]) -> str | None:
    """--lang from the command line before it is parsed, so that argparse's errors are said in it."""
    for i, word in enumerate(argv):
        value = word.removeprefix("--lang=") if word.startswith("--lang=") else \
            argv[i + 1] if word == "--lang" and i + 1 < len(argv) else None
        if value in LANGUAGES:
            return value
    return None


@dataclass(frozen=True)
class Command:
    """A subcommand: the function its options are keywords of (each declared once, there: options.py), and what it
    does. settings: train's settings too (TrainConfig's fields). run: a leading run folder, for a Run's methods."""
    name: str
    function: Callable
    help: str
    settings: bool = False
    run: Option | None = None
    epilog: str | None = None


def build_parser() -> argparse.ArgumentParser:
    """The command line, generated from the declarations: a flag for every declared option of each command."""
    parser = Parser(prog="visionpath", description="Image classification on PyTorch, from MNIST to your own photos.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error "
                        "(otherwise it goes to a log file)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        if command.name == "data":
            d = commands.add_parser("data", help=command.help)
            actions = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
            for action in DATA_COMMANDS:
                add_command(actions, action)
        else:
            add_command(commands, command)
    add_language(parser)
    return parser


def add_command(commands, command: Command) -> None:
    """One subcommand's parser: its run folder, train's settings, then the function's options."""
    parser = commands.add_parser(command.name, help=command.help, epilog=command.epilog,
                                 formatter_class=argparse.RawDescriptionHelpFormatter, argument_default=SUPPRESS)
    if command.run is not None:
        add_option(parser, Declared("run", (str,), False, False, inspect.Parameter.empty, command.run))
    if command.settings:
        add_settings(parser)
    for option in declared(command.function):
        add_option(parser, option)


def add_option(parser: argparse.ArgumentParser, d: Declared, default: str | None = None) -> None:
    """The argument of one declared option: a positional, a --flag/--no-flag pair for yes-or-no, else a --flag
    that takes a value of its kind. default: what the help says it defaults to (else the function's default). A flag
    left out is not passed, so the function's own default is the only one."""
    o = d.option
    default = default_words(d) if default is None else default
    text = SUPPRESS if o.hidden else (o.help + (f" (default: {default})" if default else "")).replace("%", "%%")
    if o.positional:
        optional = d.default is not inspect.Parameter.empty
        parser.add_argument(d.name, nargs="+" if d.many else "?" if optional else None, help=text, metavar=o.metavar,
                            choices=o.choices or None,  # argparse checks a positional's default: give it
                            default=d.default if optional and o.choices else SUPPRESS)
    elif d.kind[0] is bool:
        parser.add_argument(flag(d.name), action=argparse.BooleanOptionalAction, help=text)
    else:
        choices = "{" + ",".join(map(str, o.choices)) + "}" if o.choices else None
        parser.add_argument(flag(d.name), type=d.kind[0], metavar=o.metavar or choices,
                            nargs="+" if d.many else None, help=text)


def default_words(d: Declared) -> str:
    """What the help says an option defaults to: the function's default, unless its help says it or it is none."""
    if "(default:" in d.option.help or d.option.positional or d.default in (inspect.Parameter.empty, None, False):
        return ""
    return "on" if d.default is True else f"{d.default:g}" if isinstance(d.default, float) else str(d.default)


def add_language(parser: argparse.ArgumentParser) -> None:
    """--lang, before or after the command (`visionpath train mnist --lang ja`), on every command and subcommand."""
    parser.add_argument("--lang", choices=LANGUAGES, default=SUPPRESS,
                        help="the language visionpath explains things in, en or ja (default: from $LANG; in Python: "
                        "visionpath.set_language)")
    for action in parser._actions:  # argparse keeps the subcommands' parsers only in this action
        if isinstance(action, argparse._SubParsersAction):
            for subparser in dict.fromkeys(action.choices.values()):
                add_language(subparser)


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig setting, its help and default taken from there: --batch-size for batch_size, a
    --flag/--no-flag pair for yes-or-no settings. A flag left out is not passed, so the API decides its value."""
    for f in fields(TrainConfig):
        add_option(parser, Declared(f.name, (setting_type(f),), False, True, f.default, option_of(f)),
                   default=default_text(f))


def list_datasets() -> None:
    say(tr("built-in datasets (or pass the path of a folder of class subfolders):"))
    for name, spec in DATASETS.items():
        cache = dataset_cache_dir(name)
        cached = sum((cache / f.name).is_file() for f in spec.files)
        state = "cached" if cached == len(spec.files) else f"{cached}/{len(spec.files)} files cached"
        say(f"  {name:<14} {spec.description}\n  {'':<14} {state} in {cache}")



def list_models() -> None:
    import timm
    import torch

    say(f"{'model':<18} {'params (28×28 grey)':>20} {'params (32×32 colour)':>22}  description")
    for name, entry in MODELS.items():
        with torch.device("meta"):  # shapes only: no memory, no time, even for VGG-16
            counts = [count_parameters(create_model(name, 10, shape)) for shape in ((1, 28, 28), (3, 32, 32))]
        say(f"{name:<18} {counts[0]:>20,} {counts[1]:>22,}  {entry.summary}")
        say(f"{'':<18} arguments: " + ", ".join(f"{k}={v}" for k, v in entry.arguments.items()))
        if entry.recipe:
            say(f"{'':<18} recipe: " + ", ".join(f"{k}={v}" for k, v in entry.recipe.items()))
    say(f"{'timm:<name>':<18} any of timm's {len(timm.list_models())} architectures as a pretrained "
        "backbone, e.g. timm:resnet50 (weights from the hub, or --weights FILE)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    with use(language_asked(argv)):
        args = vars(parser.parse_args(argv))
    command, debug = args.pop("command"), args.pop("debug") or os.environ.get("VISIONPATH_DEBUG", "") not in ("", "0")
    keep_freed_memory()  # the command's own process: see devices.keep_freed_memory
    with use(args.pop("lang", None)):  # the errors below are written in it too
        return run_guarded(parser, command, args, debug)


def run_guarded(parser: argparse.ArgumentParser, command: str | None, args: dict, debug: bool) -> int:
    """The command, with every error one line on stderr and an exit status: 2 the user's, 3 ours, 130 Ctrl-C."""
    try:
        return run_command(parser, command, args)
    except AlreadySaid:
        return 2
    except VisionpathError as e:
        if not silent():  # under torchrun every process meets the error; the first says it
            print(tr("error: {message}", message=printable(str(e))), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(tr("interrupted"), file=sys.stderr)
        return 130
    except Exception as e:  # a bug, or something nobody foresaw: one line, and the traceback kept for a report
        if debug:
            raise
        what = printable(str(e)).splitlines()[0] if str(e) else ""
        print(tr("error: visionpath failed unexpectedly ({kind}: {what}); the full traceback is in {log}. Run again "
                 "with --debug to see it here.", kind=type(e).__name__, what=what, log=write_crash_log()),
              file=sys.stderr)
        return 3


def write_crash_log() -> Path:
    """The current exception's traceback in $VISIONPATH_HOME/logs (or the temporary folder), for a bug report."""
    text = f"visionpath {__version__}\n{' '.join(map(shlex.quote, sys.argv))}\n\n{traceback.format_exc()}"
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in (cache_home() / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / name, text)
            return folder / name
        except (OSError, VisionpathError):
            continue
    return Path("(nowhere: no writable folder)")


def data_command(action: str, args: dict) -> int:
    """`visionpath data check|split|dedupe`."""
    if action == "check":
        root = args.pop("root")
        return check_data(root, output=args.pop("output", f"{Path(root).resolve().name}-check"), **args).status
    if action == "dedupe":
        counts = dedupe_folder(**args)
        say(tr("wrote {destination}: {copied:,} pictures copied, {moved:,} moved from validation or test to train "
               "(each with a copy in another split), {left:,} extra copies left out", destination=args["destination"],
               copied=counts["copied"], moved=counts["moved to train"], left=counts["left out"]))
    else:
        counts = split_folder(**args)
        say(tr("wrote {destination}: {counts}", destination=args["destination"],
               counts=", ".join(f"{n:,} {split}" for split, n in counts.items())))
    return 0


def run_command(parser: argparse.ArgumentParser, command: str | None, args: dict) -> int:
    """The command's work; its exit status (0 done, 1 warnings or a run that diverged, 130 interrupted)."""
    if command == "train":
        run = train(**args)
        return 130 if run.interrupted else 1 if run.diverged else 0
    if command == "tune":
        study = tune(**args)
        # no trial finished (each failed, say, on a setting the data cannot take): nothing was found, say so in the
        # status too; a worker's status is the study's starter's to report
        return 1 if not args.get("report") and not args.get("worker") and study.best() is None else 0
    if command == "data":
        return data_command(args.pop("data_command"), args)
    if command == "compare":
        output = args.get("output", "comparison")
        compare_runs(**args)
        say(Path(output).with_suffix(".md").read_text())
        say(tr("written: {output}.md, {output}.csv, {output}.png", output=output))
    elif command in ("evaluate", "report"):  # a Run's methods: the run folder first
        getattr(Run(args.pop("run")), command)(**args)
    elif command in BY_NAME:  # one call of the API, the flags its keywords
        BY_NAME[command].function(**args)
    else:
        parser.print_help()
        return 1
    return 0


def cache_command(action: Annotated[str, Option("show (default); verify every cached picture against its checksums; "
                                                "prune rows nothing refers to; clear everything", positional=True,
                                                choices=("show", "verify", "prune", "clear"))] = "show") -> None:
    """`visionpath cache`: what the picture cache holds, after verifying, pruning or clearing it."""
    if action == "verify":
        damaged = verify_cache()
        say(tr("{count} damaged segment(s) dropped (their pictures are decoded again when next used)",
               count=len(damaged)) if damaged else tr("every cached picture matches its checksums"))
    elif action == "prune":
        say(tr("freed {size_text}", size_text=size_text(prune_cache())))
    elif action == "clear":
        say(tr("freed {size_text}; downloaded datasets in {value} are kept",
               size_text=size_text(clear_cache()), value=cache_home() / 'datasets'))
    say(describe_cache())


COMMANDS = [
    Command("train", train, "train a model on a dataset or a folder of class subfolders", settings=True,
            epilog=TRAIN_EXAMPLES),
    Command("evaluate", Run.evaluate, "test loss and accuracy, per-class table and confusion matrix of a run",
            run=Option("a run folder, e.g. runs/mnist-mlp-1", positional=True)),
    Command("predict", predict, "classify images with a trained run"),
    Command("export", export, "write a run's model as one file that runs without visionpath: ONNX (onnxruntime, any "
            "language) or TorchScript"),
    Command("serve", serve, "a web page and a JSON API (POST /predict) for a run's classifier, on this machine until "
            "Ctrl-C"),
    Command("studio", studio, "the whole path in a browser, on this machine: classes, pictures (files or the camera), "
            "the data check, training, the report, trying the model, and its ONNX file; every step shows its command"),
    Command("show", show, "a grid of training pictures with their labels, and the same through the augmentation a "
            "run would use"),
    Command("filters", filters, "the first convolution layer's filters, and the feature maps they make of a picture"),
    Command("lr-find", lr_find, "the learning-rate range test: the loss as the rate rises, a plot and a suggested "
            "--lr"),
    Command("explain", explain, "Grad-CAM: a heat map over each photo of where the model looked for the class it "
            "chose"),
    Command("tune", tune, "search training settings with Optuna: each trial a run, bad ones pruned early, the best "
            "scored on test once", settings=True, epilog=TUNE_EXAMPLES),
    Command("compare", compare_runs, "test accuracy, training time, epochs and parameters of runs, side by side "
            "(table, CSV, PNG)"),
    Command("data", data_command, "check a folder of photos, split one into train/validation/test, or copy one "
            "without its leaks"),
    Command("report", Run.report, "write a run's report.html: settings, data, curves, confusion matrix, per-class "
            "table, misclassified pictures", run=Option("a run folder", positional=True)),
    Command("cache", cache_command, "what the picture cache holds; verify, prune or clear it (safe while runs are "
            "reading it)"),
    Command("datasets", list_datasets, "the built-in datasets and where each is cached"),
    Command("models", list_models, "the model registry, with parameter counts"),
    Command("devices", describe_machine, "this machine's devices and the precision --precision auto trains in on "
            "each (measured once, then kept), with the measurement"),
]
DATA_COMMANDS = [
    Command("check", check_data, "counts, balance, unreadable files, duplicates and leaks between splits, sizes; exit "
            "status 0 clean, 1 warnings, 2 errors"),
    Command("split", split_folder, "copy a folder of class subfolders into train/ validation/ test/, stratified and "
            "seeded"),
    Command("dedupe", dedupe_folder, "copy a folder whose splits leak, each group of duplicates that crosses splits "
            "moved into train and extra copies left out; the original is not touched"),
]
BY_NAME = {command.name: command for command in COMMANDS}
