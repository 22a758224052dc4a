"""Labels the model disputes: do the pictures whose labels were flipped on purpose top the list, and are correct
ones left alone? On real photos, 5% of the training labels flipped (seeded), the list made as a photo run makes it
after caching its features (visionpath/data/suspects.py: out-of-fold heads on EfficientNet-Lite0's frozen ImageNet
features, here at 224 px).

    python benchmarks/mislabels.py [--quick]

  hymenoptera    its 245 training photos of ants and bees (../shared/data)
  cats_vs_dogs   its 1,802 photos (the 18 saved twice included: their copies keep the same label)
  cifar10        100 training pictures of each of CIFAR-10's 10 classes (32 px, enlarged to 224)

For each: how many were flipped, how long the list is, how many of the flipped are in it (recall), how many of its
first (as many as were flipped) are flipped ones, how many of the whole list are (precision), and the seconds the
out-of-fold heads took (the features' seconds apart: stage 1 computes them anyway).
"""
from __future__ import annotations

import random
import time
import zipfile

import torch
from runner import SHARED, Bench, main

from visionpath.data.images import InMemory, load_images
from visionpath.models import (create_model, features_in_batches, load_pretrained, model_entry, prepare_for_device,
                               scaling_for)
from visionpath.data.suspects import disputed_labels

SIDE = 224
SHARE = 0.05
RESULTS: dict[str, dict] = {}


def pictures_of(archive: str, keep) -> tuple[list[InMemory], list[str]]:
    """The JPEGs of a zip whose path `keep` gives a class for (None: left out), as (files, classes)."""
    files, classes = [], []
    with zipfile.ZipFile(SHARED / "data" / archive) as z:
        for name in sorted(z.namelist()):
            label = keep(name) if name.lower().endswith((".jpg", ".jpeg", ".png")) else None
            if label is not None:
                files.append(InMemory(name, z.read(name)))
                classes.append(label)
    return files, classes


def measure(bench: Bench, name: str, files: list[InMemory], classes: list[str]) -> None:
    names = sorted(set(classes))
    labels = torch.tensor([names.index(c) for c in classes])
    flipped = sorted(random.Random(0).sample(range(len(files)), round(SHARE * len(files))))
    given = labels.clone()
    for i in flipped:
        given[i] = random.Random(i).choice([k for k in range(len(names)) if k != labels[i]])
    images = torch.stack(load_images(files, (SIDE, SIDE), 3))
    net = create_model("efficientnet_lite0", len(names), (3, SIDE, SIDE), resolution=SIDE)
    load_pretrained(net)
    net = prepare_for_device(net, torch.device("cpu")).eval()
    mean, std = scaling_for(model_entry("efficientnet_lite0"), (0.5,) * 3, (0.25,) * 3)  # its own scaling
    t0 = time.perf_counter()
    with torch.inference_mode():
        features = features_in_batches(net, images, mean, std, torch.device("cpu"), False).float()
    featuring = time.perf_counter() - t0
    t0 = time.perf_counter()
    found, agreed = disputed_labels(features.clone(), given, names, [f.name for f in files])
    seconds = time.perf_counter() - t0
    index = {f.name: i for i, f in enumerate(files)}
    listed = [index[d.path] for d in found]
    truth = set(flipped)
    RESULTS[name] = {"pictures": len(files), "classes": len(names), "flipped": len(flipped), "listed": len(listed),
                     "found": len(truth & set(listed)), "top": len(truth & set(listed[:len(flipped)])),
                     "agreed": agreed, "seconds": seconds, "feature_seconds": featuring}
    print(RESULTS[name], flush=True)


def write(bench: Bench) -> None:
    lines = ["| folder | training pictures | classes | labels flipped | listed | flipped found (recall) | flipped "
             "among the first as many | precision of the list | labels the head agrees with | seconds (features "
             "apart) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in RESULTS.items():
        lines.append(f"| {name} | {r['pictures']:,} | {r['classes']} | {r['flipped']} | {r['listed']} | "
                     f"{r['found']} ({r['found'] / r['flipped']:.0%}) | {r['top']} of {r['flipped']} | "
                     f"{r['found'] / max(1, r['listed']):.0%} | {r['agreed']:.0%} | {r['seconds']:.1f} s "
                     f"({r['feature_seconds']:.0f} s) |")
    bench.write("mislabels", "Labels the model disputes: flipped labels found, correct ones left alone", lines,
                {"results": RESULTS, "side": SIDE, "share": SHARE})


def all_folders(bench: Bench) -> None:
    most = 60 if bench.quick else None
    folders = {
        "hymenoptera": ("hymenoptera.zip", lambda n: n.split("/")[-2] if "/train/" in f"/{n}" else None),
        "cats_vs_dogs": ("cats-vs-dogs.zip", lambda n: n.split("/")[-2]),
        "cifar10": ("cifar10-jpg.zip", lambda n: n.split("/")[-2] if "train/" in n else None),
    }
    for name, (archive, keep) in folders.items():
        files, classes = pictures_of(archive, keep)
        if name == "cifar10":  # the first 100 of each class
            chosen = [i for c in sorted(set(classes)) for i in [j for j, k in enumerate(classes) if k == c][:100]]
            files, classes = [files[i] for i in chosen], [classes[i] for i in chosen]
        if most:
            chosen = sorted(random.Random(1).sample(range(len(files)), most))
            files, classes = [files[i] for i in chosen], [classes[i] for i in chosen]
        measure(bench, name, files, classes)
    write(bench)


if __name__ == "__main__":
    main(__doc__, {"all": all_folders})
