"""The `visionpath` command: a thin layer over the Python API. Every flag is a keyword of the function it calls,
and a flag left out is not passed at all, so the API's defaults are the only defaults."""
from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from .console import say
from .errors import VisionpathError

TRAIN_EXAMPLES = """examples:
  visionpath train mnist --model mlp --epochs 5 --batch-size 128
  visionpath train cifar10 --model resnet9                # the fast recipe for small colour photos
  visionpath train cifar10 --model cnn --augment none --epochs 30   # watch a CNN overfit
  visionpath train cifar10 --model cnn --augment standard --dropout 0.3 --weight-decay 5e-4 --early-stopping 5
  visionpath train mnist --data-dir ../shared/data        # local copies of the data, no download
  visionpath train path/to/photos                         # a folder of class subfolders: pretrained, fine-tuned
  visionpath train --resume runs/mnist-mlp-1              # continue an interrupted run"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visionpath", description="Image classification on PyTorch, from MNIST to "
                                     "your own photos.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    S = argparse.SUPPRESS
    from .train import train
    from .train import DEFAULTS
    # The API's defaults, shown; settings that a model's recipe may set show the fallback
    D = {name: p.default for name, p in inspect.signature(train).parameters.items()}
    D.update({k: f"the model's recipe, else {v}" for k, v in DEFAULTS.items()})

    t = commands.add_parser("train", help="train a model on a dataset or a folder of class subfolders",
                            epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                            argument_default=S)
    t.add_argument("data", nargs="?", help="built-in dataset (mnist, fashion-mnist, cifar10, cifar100) or a folder "
                   "(default: mnist)")
    t.add_argument("--model", help="model name, see `visionpath models` (default: mlp for a built-in dataset; for a "
                   "folder of photos, efficientnet_lite0 pretrained, head first then fine-tuning)")
    t.add_argument("--epochs", type=int, help=f"passes over the training images (default: {D['epochs']})")
    t.add_argument("--batch-size", type=int, help=f"images per step (default: {D['batch_size']})")
    t.add_argument("--lr", type=float, help=f"peak learning rate (default: {D['lr']})")
    t.add_argument("--optimizer", help=f"adam, adamw or sgd (default: {D['optimizer']})")
    t.add_argument("--schedule", help=f"learning-rate schedule: onecycle, cosine or constant (default: {D['schedule']})")
    t.add_argument("--weight-decay", type=float, help=f"L2 regularisation, decoupled (default: {D['weight_decay']})")
    t.add_argument("--l1", type=float, help=f"L1 penalty on the weights (default: {D['l1']})")
    t.add_argument("--label-smoothing", type=float, help=f"(default: {D['label_smoothing']})")
    t.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                   help="stop after this many epochs without a better validation accuracy, keep the best "
                   "(default: off)")
    t.add_argument("--augment", help=f"augmentation preset: none, standard (crop with padding + flip) or strong "
                   f"(+ TrivialAugment + random erasing) (default: {D['augment']})")
    t.add_argument("--rotation", type=float, metavar="DEGREES", help="random rotation up to this many degrees")
    t.add_argument("--shift", type=float, metavar="FRACTION", help="random shift up to this fraction of the side")
    t.add_argument("--zoom", type=float, metavar="FRACTION", help="random zoom in or out by up to this fraction")
    t.add_argument("--flip", action=argparse.BooleanOptionalAction, help="random horizontal flips (default: "
                   "as the preset says; never for digits unless forced)")
    t.add_argument("--width", type=int, help="model width (mlp: units per hidden layer; cnn, resnet9: filters of "
                   "the first block), see `visionpath models`")
    t.add_argument("--depth", type=int, help="model depth (mlp: hidden layers; cnn: conv blocks)")
    t.add_argument("--dropout", type=float, help="dropout rate (see `visionpath models` for each model's default)")
    t.add_argument("--validation-split", type=float, help=f"share of train held out when there is no validation "
                   f"split (default: {D['validation_split']})")
    t.add_argument("--image-size", type=int, help="resize folder pictures to this side (default: their own size)")
    t.add_argument("--strict", action="store_true", help="stop at an unreadable picture file instead of skipping "
                   "and listing it")
    t.add_argument("--labels", metavar="CSV", help="classes from a CSV of filename,label[,split] (file names "
                   "relative to the folder) instead of class subfolders")
    t.add_argument("--balance", help="unbalanced classes: none, weights (class-weighted loss), sampler (every class "
                   "drawn equally often) or auto (weights when the largest class is over 1.5x the smallest) "
                   f"(default: {D['balance']})")
    t.add_argument("--data-dir", help="folder with local copies of the built-in datasets (or $VISIONPATH_DATA_DIR)")
    t.add_argument("--seed", type=int, help=f"random seed (default: {D['seed']})")
    t.add_argument("--device", help=f"auto, cpu, cuda or mps (default: {D['device']})")
    t.add_argument("--precision", help=f"auto (bf16 mixed precision where it is measured faster), fp32 or bf16 "
                   f"(default: {D['precision']})")
    t.add_argument("--compile", action="store_true", help="compile the model with torch.compile (slow start, "
                   "faster steps on a GPU)")
    t.add_argument("--pretrained", action="store_true", help="start a backbone (efficientnet_lite0, resnet18, "
                   "timm:<name>...) from ImageNet weights: head first, then fine-tuning")
    t.add_argument("--weights", metavar="FILE", help="pretrained backbone weights from a file (.pth or .safetensors)")
    t.add_argument("--fine-tune-epochs", type=int, help="epochs of stage 2, fine-tuning the backbone (0: feature "
                   "extraction only; default: the model's recipe)")
    t.add_argument("--fine-tune-lr", type=float, help="stage 2's peak learning rate (default: --lr / 10)")
    t.add_argument("--unfreeze", type=int, metavar="N", help="fine-tune only the top N blocks (default: all)")
    t.add_argument("--layer-lr-decay", type=float, metavar="F", help="discriminative fine-tuning: each block "
                   "learns at F × the rate of the block above it, the head at --fine-tune-lr (default: 1, all the "
                   "same)")
    t.add_argument("--feature-cache", action=argparse.BooleanOptionalAction, help="stage 1 trains the head on "
                   "backbone features computed once (default: on)")
    t.add_argument("--augmented-views", type=int, metavar="K", help="cache K augmented views of every training "
                   "picture instead of the plain pictures (default: 0)")
    t.add_argument("--project", help=f"parent folder of run folders (default: {D['project']})")
    t.add_argument("--name", help="run name (default: <dataset>-<model>); the folder is <project>/<name>-N")
    t.add_argument("--resume", metavar="RUN", help="continue an interrupted run folder from its last epoch")

    e = commands.add_parser("evaluate", help="test loss and accuracy, per-class table and confusion matrix of a run",
                            argument_default=S)
    e.add_argument("run", help="a run folder, e.g. runs/mnist-mlp-1")
    e.add_argument("--split", help="test (default), validation or train")
    e.add_argument("--data-dir", help="where the data is, if not where it was during training")

    p = commands.add_parser("predict", help="classify images with a trained run", argument_default=S)
    p.add_argument("run", help="a run folder or a checkpoint file")
    p.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--top-k", type=int, help="classes shown per image (default: 5)")
    p.add_argument("--csv", help="write all predictions to this CSV file")
    p.add_argument("--batch-size", type=int, help="images per forward pass (default: 256)")
    p.add_argument("--min-confidence", type=float, metavar="P", help="mark predictions below this probability as "
                   "uncertain (default: 0, none)")
    p.add_argument("--tta", action="store_true", help="test-time augmentation: average with the mirrored picture")

    c = commands.add_parser("compare", help="test accuracy, training time, epochs and parameters of runs, side by "
                            "side (table, CSV, PNG)", argument_default=S)
    c.add_argument("runs", nargs="+", help="run folders")
    c.add_argument("--output", help="where to write <output>.md, .csv and .png (default: comparison)")
    d = commands.add_parser("data", help="check a folder of photos, or split one into train/validation/test")
    data_commands = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    dc = data_commands.add_parser("check", help="counts, balance, unreadable files, duplicates and leaks between "
                                  "splits, sizes; exit status 0 clean, 1 warnings, 2 errors", argument_default=S)
    dc.add_argument("root", help="a folder of photos, in any layout that `visionpath train` accepts")
    dc.add_argument("--labels", metavar="CSV", help="classes from a CSV of filename,label[,split]")
    dc.add_argument("--output", help="write <output>.json and <output>.png (default: <folder name>-check)")
    ds = data_commands.add_parser("split", help="copy a folder of class subfolders into train/ validation/ test/, "
                                  "stratified and seeded", argument_default=S)
    ds.add_argument("source", help="a folder of class subfolders")
    ds.add_argument("destination", help="a new folder for train/ validation/ test/")
    ds.add_argument("--validation", type=float, help="share of each class for validation (default: 0.15)")
    ds.add_argument("--test", type=float, help="share of each class for test (default: 0.15)")
    ds.add_argument("--seed", type=int, help="the same seed gives the same split (default: 0)")
    r = commands.add_parser("report", help="write a run's report.html: settings, data, curves, confusion matrix, "
                            "per-class table, misclassified pictures", argument_default=S)
    r.add_argument("run", help="a run folder")
    r.add_argument("--data-dir", help="where the data is, if not where it was during training")
    commands.add_parser("datasets", help="the built-in datasets and where each is cached")
    commands.add_parser("models", help="the model registry, with parameter counts")
    return parser


def list_datasets() -> None:
    from .data.builtin import DATASETS, dataset_cache_dir
    say("built-in datasets (or pass the path of a folder of class subfolders):")
    for name, spec in DATASETS.items():
        cache = dataset_cache_dir(name)
        cached = sum((cache / f.name).is_file() for f in spec.files)
        state = "cached" if cached == len(spec.files) else f"{cached}/{len(spec.files)} files cached"
        say(f"  {name:<14} {spec.description}\n  {'':<14} {state} in {cache}")


def list_models() -> None:
    import torch

    from .models import MODELS, count_parameters, create_model
    say(f"{'model':<18} {'params (28×28 grey)':>20} {'params (32×32 colour)':>22}  description")
    for name, entry in MODELS.items():
        with torch.device("meta"):  # shapes only: no memory, no time, even for VGG-16
            counts = [count_parameters(create_model(name, 10, shape)) for shape in ((1, 28, 28), (3, 32, 32))]
        say(f"{name:<18} {counts[0]:>20,} {counts[1]:>22,}  {entry.summary}")
        say(f"{'':<18} arguments: " + ", ".join(f"{k}={v}" for k, v in entry.arguments.items()))
        if entry.recipe:
            say(f"{'':<18} recipe: " + ", ".join(f"{k}={v}" for k, v in entry.recipe.items()))
    say(f"{'timm:<name>':<18} any of timm's {len(__import__('timm').list_models())} architectures as a pretrained "
        "backbone, e.g. timm:resnet50 (weights from the hub, or --weights FILE)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    command = args.pop("command")
    try:
        if command == "train":
            from .train import train
            run = train(**args)
            return 130 if run.interrupted else 0
        if command == "evaluate":
            from .runs import Run
            Run(args.pop("run")).evaluate(**args)
        elif command == "predict":
            from .predict import predict
            predict(**args)
        elif command == "compare":
            from .report import compare_runs
            from .runs import Run
            output = args.get("output", "comparison")
            compare_runs([Run(r) for r in args["runs"]], output)
            say(Path(output).with_suffix(".md").read_text())
            say(f"written: {output}.md, {output}.csv, {output}.png")
        elif command == "data" and args.pop("data_command") == "check":
            from .data.check import check_data
            root = args.pop("root")
            return check_data(root, output=args.pop("output", f"{Path(root).resolve().name}-check"), **args).status
        elif command == "data":
            from .data.folder import split_folder
            counts = split_folder(**args)
            say(f"wrote {args['destination']}: " + ", ".join(f"{n:,} {split}" for split, n in counts.items()))
        elif command == "report":
            from .runs import Run
            Run(args.pop("run")).report(**args)
        elif command == "datasets":
            list_datasets()
        elif command == "models":
            list_models()
        else:
            parser.print_help()
            return 1
    except VisionpathError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
