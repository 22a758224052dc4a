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
from dataclasses import fields
from pathlib import Path

from .config import TrainConfig, default_text, flag, setting_type
from .console import printable, say, silent
from .data.builtin import DATASETS, dataset_cache_dir
from .data.cache import clear_cache, describe_cache, prune_cache, size_text, verify_cache
from .data.check import check_data
from .data.dedupe import dedupe_folder
from .data.folder import split_folder
from .devices import describe_machine, keep_freed_memory
from .data.download import cache_home
from .errors import AlreadySaid, VisionpathError
from .export import FORMATS, export
from .i18n import LANGUAGES, tr, use
from .inside import explain, filters, show
from .lr_find import lr_find
from .files import atomic_write
from .models import MODELS, count_parameters, create_model
from .predict import predict
from .report import compare_runs
from .runs import Run
from .serve import serve
from .train import train
from .tune import PRUNERS, tune
from .version import __version__

TRAIN_EXAMPLES = """examples:
  visionpath train mnist --model mlp --epochs 5 --batch-size 128
  visionpath train cifar10 --model resnet9                # the fast recipe for small colour photos
  visionpath train cifar10 --model cnn --augment none --epochs 30   # watch a CNN overfit
  visionpath train cifar10 --model cnn --augment standard --dropout 0.3 --weight-decay 5e-4 --early-stopping 5
  visionpath train mnist --data-dir ../shared/data        # local copies of the data, no download
  visionpath train path/to/photos                         # a folder of class subfolders: pretrained, fine-tuned
  visionpath train --resume runs/mnist-mlp-1              # continue an interrupted run"""


# the model's device for evaluate, report and predict: the words of train's --device
DEVICE_HELP = "where the model runs: " + next(f.metadata["help"] for f in fields(TrainConfig) if f.name == "device") \
    + " (default: auto)"


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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="visionpath", description="Image classification on PyTorch, from MNIST to your own photos.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error "
                        "(otherwise it goes to a log file)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    S = argparse.SUPPRESS
    t = commands.add_parser("train", help="train a model on a dataset or a folder of class subfolders",
                            epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                            argument_default=S)
    add_settings(t)
    t.add_argument("--resume", metavar="RUN", help="continue an interrupted run folder from its last epoch (with "
                   "any number of --devices)")
    t.add_argument("--devices", metavar="N|LIST", help="train in N processes, data-parallel (one per GPU, or CPU "
                   "processes without one), or on the GPUs listed, e.g. 0,2; started through torchrun. --batch-size "
                   "stays the whole batch, shared out among them (default: one process)")

    e = commands.add_parser("evaluate", help="test loss and accuracy, per-class table and confusion matrix of a run",
                            argument_default=S)
    e.add_argument("run", help="a run folder, e.g. runs/mnist-mlp-1")
    e.add_argument("--split", help="test (default), validation or train")
    e.add_argument("--data-dir", help="where the data is, if not where it was during training")
    e.add_argument("--device", help=DEVICE_HELP)

    add_using_commands(commands)

    add_seeing_commands(commands)
    add_tune_command(commands)

    c = commands.add_parser("compare", help="test accuracy, training time, epochs and parameters of runs, side by "
                            "side (table, CSV, PNG)", argument_default=S)
    c.add_argument("runs", nargs="+", help="run folders")
    c.add_argument("--output", help="where to write <output>.md, .csv and .png (default: comparison)")
    d = commands.add_parser("data", help="check a folder of photos, split one into train/validation/test, or "
                            "copy one without its leaks")
    data_commands = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    dc = data_commands.add_parser("check", help="counts, balance, unreadable files, duplicates and leaks between "
                                  "splits, sizes; exit status 0 clean, 1 warnings, 2 errors", argument_default=S)
    dc.add_argument("root", help="a folder of photos, in any layout that `visionpath train` accepts")
    dc.add_argument("--labels", metavar="CSV", help="classes from a CSV of filename,label[,split]")
    dc.add_argument("--output", help="write <output>.json, <output>.png and <output>.html, a page with every "
                    "finding's pictures (default: <folder name>-check)")
    dc.add_argument("--run", help="a run trained on the folder: the training labels it disputes join the findings")
    ds = data_commands.add_parser("split", help="copy a folder of class subfolders into train/ validation/ test/, "
                                  "stratified and seeded", argument_default=S)
    ds.add_argument("source", help="a folder of class subfolders")
    ds.add_argument("destination", help="a new folder for train/ validation/ test/")
    D = defaults_of(split_folder)
    ds.add_argument("--validation", type=float, help=f"share of each class for validation (default: {D['validation']})")
    ds.add_argument("--test", type=float, help=f"share of each class for test (default: {D['test']})")
    ds.add_argument("--seed", type=int, help=f"the same seed gives the same split (default: {D['seed']})")
    dd = data_commands.add_parser("dedupe", help="copy a folder whose splits leak, each group of duplicates that "
                                  "crosses splits moved into train and extra copies left out; the original is not "
                                  "touched", argument_default=S)
    dd.add_argument("source", help="a folder of train/ validation/ test/ class folders")
    dd.add_argument("destination", help="a new folder for the clean copy")
    r = commands.add_parser("report", help="write a run's report.html: settings, data, curves, confusion matrix, "
                            "per-class table, misclassified pictures", argument_default=S)
    r.add_argument("run", help="a run folder")
    r.add_argument("--data-dir", help="where the data is, if not where it was during training")
    r.add_argument("--device", help=DEVICE_HELP)
    k = commands.add_parser("cache", help="what the picture cache holds; verify, prune or clear it (safe while "
                            "runs are reading it)")
    k.add_argument("action", nargs="?", choices=("show", "verify", "prune", "clear"), default="show",
                   help="show (default); verify every cached picture against its checksums; prune rows nothing "
                   "refers to; clear everything")
    commands.add_parser("datasets", help="the built-in datasets and where each is cached")
    commands.add_parser("models", help="the model registry, with parameter counts")
    m = commands.add_parser("devices", help="this machine's devices and the precision --precision auto trains in on "
                            "each (measured once, then kept), with the measurement", argument_default=S)
    m.add_argument("--measure", action="store_true", help="measure again and keep the new decision")
    m.add_argument("--device", help="one device only: cpu, cuda, cuda:1 or mps (default: all of them)")
    add_language(parser)
    return parser


def add_language(parser: argparse.ArgumentParser) -> None:
    """--lang, before or after the command (`visionpath train mnist --lang ja`), on every command and subcommand."""
    parser.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS,
                        help="the language visionpath explains things in, en or ja (default: from $LANG; in Python: "
                        "visionpath.set_language)")
    for action in parser._actions:  # argparse keeps the subcommands' parsers only in this action
        if isinstance(action, argparse._SubParsersAction):
            for subparser in dict.fromkeys(action.choices.values()):
                add_language(subparser)


def add_seeing_commands(commands) -> None:
    """show, filters, lr-find and explain: pictures of what the model is given and of what happens inside it."""
    S = argparse.SUPPRESS
    h = commands.add_parser("show", help="a grid of training pictures with their labels, and the same through the "
                            "augmentation a run would use", argument_default=S)
    h.add_argument("data", help="a built-in dataset (mnist, cifar10, ...) or a folder of class subfolders")
    h.add_argument("--count", type=int, help=f"pictures shown (default: {defaults_of(show)['count']})")
    h.add_argument("--model", help="the model the run would train: its recipe's augmentation is shown")
    h.add_argument("--augment", help="an augmentation preset instead of the run's: none, standard or strong")
    h.add_argument("--data-dir", help="folder with local copies of the built-in datasets")
    h.add_argument("--output", help="the PNG to write (default: <data>-batch.png)")
    h.add_argument("--seed", type=int, help=f"which pictures and augmentations (default: {defaults_of(show)['seed']})")

    f = commands.add_parser("filters", help="the first convolution layer's filters, and the feature maps they make "
                            "of a picture", argument_default=S)
    f.add_argument("run", help="a run folder or a checkpoint file")
    f.add_argument("image", nargs="?", help="a picture whose feature maps to draw")
    f.add_argument("--maps", type=int, help=f"feature maps drawn (default: {defaults_of(filters)['maps']})")
    f.add_argument("--output", help=f"the PNG to write (default: {defaults_of(filters)['output']})")

    L = defaults_of(lr_find)
    r = commands.add_parser("lr-find", help="the learning-rate range test: the loss as the rate rises, a plot and a "
                            "suggested --lr", argument_default=S)
    r.add_argument("data", help="a built-in dataset (mnist, cifar10, ...) or a folder of class subfolders")
    r.add_argument("--model", help="the model to test (default: what `visionpath train DATA` would train)")
    r.add_argument("--steps", type=int, help=f"training steps, the rate rising over them (default: {L['steps']})")
    r.add_argument("--start", type=float, help=f"the first learning rate (default: {L['start']:g})")
    r.add_argument("--end", type=float, help=f"the last learning rate (default: {L['end']:g})")
    r.add_argument("--batch-size", type=int, help="pictures per step (default: the model's recipe)")
    r.add_argument("--data-dir", help="folder with local copies of the built-in datasets")
    r.add_argument("--output", help="the PNG to write (default: <data>-lr-find.png)")
    r.add_argument("--seed", type=int, help=f"random seed (default: {L['seed']})")
    r.add_argument("--device", help=DEVICE_HELP)

    x = commands.add_parser("explain", help="Grad-CAM: a heat map over each photo of where the model looked for "
                            "the class it chose", argument_default=S)
    x.add_argument("run", help="a run folder or a checkpoint file")
    x.add_argument("images", nargs="+", help="picture files")
    x.add_argument("--output", help=f"the PNG to write (default: {defaults_of(explain)['output']})")


TUNE_EXAMPLES = """examples:
  visionpath tune my_photos/ --trials 30 --timeout 1h      # the model's default space; bad trials pruned early
  visionpath tune cifar10 --model resnet9 --space space.toml --workers 2
  visionpath tune my_photos/ --storage postgresql://host/studies --study flowers   # several machines, one study
  visionpath tune --resume runs/tune-my_photos-1           # continue a study
  visionpath tune --report runs/tune-my_photos-1           # draw study.html again, at any time

space.toml, one line a setting (any setting of `visionpath train`; the others given here are fixed):
  lr = {low = 1e-4, high = 1e-2, log = true}
  augment = ["none", "standard"]"""


def add_tune_command(commands) -> None:
    """tune: an Optuna study whose trials are training runs; every setting of train can be fixed on it."""
    S = argparse.SUPPRESS
    T = defaults_of(tune)
    u = commands.add_parser("tune", help="search training settings with Optuna: each trial a run, bad ones pruned "
                            "early, the best scored on test once", epilog=TUNE_EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter, argument_default=S)
    add_settings(u)
    u.add_argument("--trials", type=int, help=f"trials in all, a resumed study's earlier ones included (default: "
                   f"{T['trials']})")
    u.add_argument("--timeout", metavar="TIME", help="start no trial after this long: minutes, or 90s, 30m, 1h "
                   "(default: none)")
    u.add_argument("--space", metavar="TOML", help="the settings to search and their ranges (default: the model's "
                   "own space)")
    u.add_argument("--workers", type=int, help=f"trial processes on this machine sharing the study (default: "
                   f"{T['workers']})")
    u.add_argument("--storage", metavar="URL", help="an Optuna storage that processes on several machines share, e.g."
                   " postgresql://host/db (default: study.db in the study folder)")
    u.add_argument("--study", metavar="NAME", help="the study's name in --storage (default: visionpath)")
    u.add_argument("--pruner", choices=PRUNERS, help="stop unpromising trials by their early epochs: halving (the "
                   "default), median or none")
    u.add_argument("--resume", metavar="STUDY", help="continue a study folder up to --trials")
    u.add_argument("--report", metavar="STUDY", help="draw a study folder's study.html again and stop")
    u.add_argument("--worker", type=int, help=S)  # the processes --workers starts
    u.add_argument("--deadline", type=float, help=S)


def add_using_commands(commands) -> None:
    """predict, export and serve: the commands that put a trained classifier to use."""
    S = argparse.SUPPRESS
    p = commands.add_parser("predict", help="classify images with a trained run", argument_default=S)
    p.add_argument("run", help="a run folder, a checkpoint file, or a model.onnx written by `visionpath export`")
    p.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    P = defaults_of(predict)
    p.add_argument("--top-k", type=int, help=f"classes shown per image (default: {P['top_k']})")
    p.add_argument("--csv", help="write all predictions to this CSV file")
    p.add_argument("--batch-size", type=int, help=f"images per forward pass (default: {P['batch_size']})")
    p.add_argument("--min-confidence", type=float, metavar="P", help="mark predictions below this probability as "
                   f"uncertain (default: {P['min_confidence']}, none)")
    p.add_argument("--tta", action="store_true", help="test-time augmentation: average with the mirrored picture")
    p.add_argument("--device", help=DEVICE_HELP)

    x = commands.add_parser("export", help="write a run's model as one file that runs without visionpath: ONNX "
                            "(onnxruntime, any language) or TorchScript", argument_default=S)
    x.add_argument("run", help="a run folder or a checkpoint file")
    x.add_argument("--format", metavar="{" + ",".join(FORMATS) + "}", help=f"onnx (onnxruntime, any language) or "
                   f"torchscript (PyTorch alone) (default: {defaults_of(export)['format']})")
    x.add_argument("--output", help="the file to write (default: model.onnx or model.pt in the run folder)")

    v = commands.add_parser("serve", help="a web page and a JSON API (POST /predict) for a run's classifier, on "
                            "this machine until Ctrl-C", argument_default=S)
    v.add_argument("run", help="a run folder, a checkpoint file, or a model.onnx written by `visionpath export`")
    V = defaults_of(serve)
    v.add_argument("--host", help=f"the address to listen on (default: {V['host']}, this machine only; 0.0.0.0 "
                   "opens it to the network)")
    v.add_argument("--port", type=int, help=f"the port (default: {V['port']}; 0: any free one)")
    v.add_argument("--top-k", type=int, help=f"classes shown per photo (default: {V['top_k']})")
    v.add_argument("--min-confidence", type=float, metavar="P", help="mark answers below this probability as "
                   f"uncertain (default: {V['min_confidence']})")
    v.add_argument("--max-upload-mb", type=float, metavar="MB", help=f"the largest request (default: "
                   f"{V['max_upload_mb']:g})")
    v.add_argument("--max-pixels", type=int, metavar="N", help="the largest picture, by its header, before it is "
                   f"decoded: decompression bombs are refused (default: {V['max_pixels']:,})")
    v.add_argument("--device", help=DEVICE_HELP)


def defaults_of(function) -> dict:
    """A function's keyword defaults: the help shows the API's own defaults, written once, there."""
    return {name: param.default for name, param in inspect.signature(function).parameters.items()}


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig setting, its help and default taken from there: --batch-size for batch_size, a
    --flag/--no-flag pair for yes-or-no settings. A flag left out is not passed, so the API decides its value."""
    for f in fields(TrainConfig):
        meta, kind = f.metadata, setting_type(f)
        default = default_text(f)
        text = (meta["help"] + (f" (default: {default})" if default else "")).replace("%", "%%")
        if meta["positional"]:
            parser.add_argument(f.name, nargs="?", help=text)
        elif kind is bool:
            parser.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, help=text)
        else:
            choices = "{" + ",".join(meta["choices"]) + "}" if meta["choices"] else None
            parser.add_argument(flag(f.name), type=kind, metavar=meta["metavar"] or choices, help=text)


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


# the commands that are one call of the API with their flags as keywords
PLAIN_COMMANDS = {"predict": predict, "export": export, "serve": serve, "show": show, "filters": filters,
                  "explain": explain, "lr-find": lr_find, "devices": describe_machine}


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
    elif command == "evaluate":
        Run(args.pop("run")).evaluate(**args)
    elif command in PLAIN_COMMANDS:
        PLAIN_COMMANDS[command](**args)
    elif command == "compare":
        output = args.get("output", "comparison")
        compare_runs(args["runs"], output)
        say(Path(output).with_suffix(".md").read_text())
        say(tr("written: {output}.md, {output}.csv, {output}.png", output=output))
    elif command == "data":
        return data_command(args.pop("data_command"), args)
    elif command == "report":
        Run(args.pop("run")).report(**args)
    elif command == "cache":
        cache_command(args["action"])
    elif command == "datasets":
        list_datasets()
    elif command == "models":
        list_models()
    else:
        parser.print_help()
        return 1
    return 0


def cache_command(action: str) -> None:
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
