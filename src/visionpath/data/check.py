"""`visionpath data check`: is this folder of photos fit to train on, and can its test score be trusted?

Per split and class: counts, share and balance; image sizes, modes and formats; unreadable files; tiny images;
exact duplicates (same bytes) and near duplicates (same 64-bit difference hash, up to a few bits apart) within
and across splits, because a photo that is in both train and test inflates the test score; classes that one
split lacks. Errors stop training (exit status 2), warnings deserve a look (1), clean is 0.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..checks import check_output
from ..console import padded, progress_bar, say
from ..errors import VisionpathError
from ..files import atomic_write, save_figure
from ..i18n import drawn_in_language, tr
from .cache import file_key, read_file_cache, write_file_cache
from .folder import class_folders, layout_help, find_splits, images_in, scan_labels
from .images import is_image_file, load_image

TINY_SIDE = 32          # pictures with a shorter side below this carry little for a 224-px backbone
NEAR_BITS = 3           # difference hashes at most this many bits apart (of 64) are near duplicates
IMBALANCE_RATIO = 3.0   # largest class over smallest, per split, above which a warning is given
RARE_SHARE = 0.05       # a file format or colour mode below this share of the pictures is an outlier


@dataclass
class Finding:
    level: str          # "error" or "warning"
    what: str           # one sentence
    paths: list[str] = field(default_factory=list)


@dataclass
class DataCheck:
    root: str
    counts: dict[str, dict[str, int]]          # split -> class -> readable pictures
    pictures: list[dict]                       # one record per file: path, split, class, size, mode, format...
    findings: list[Finding]

    @property
    def status(self) -> int:
        levels = {f.level for f in self.findings}
        return 2 if "error" in levels else 1 if "warning" in levels else 0

    def table(self) -> str:
        classes = sorted({c for per_class in self.counts.values() for c in per_class})
        width = max(10, *(len(c) for c in classes))
        splits = list(self.counts)
        lines = [padded(tr("class"), width) + "".join(f"{s:>18}" for s in splits)]
        for c in classes:
            cells = []
            for s in splits:
                n, total = self.counts[s].get(c, 0), sum(self.counts[s].values())
                cells.append(f"{n:>9,} ({n / max(1, total):4.0%})")
            lines.append(f"{c:<{width}}" + "".join(f"{cell:>18}" for cell in cells))
        lines.append(padded(tr("total"), width) + "".join(f"{sum(self.counts[s].values()):>18,}" for s in splits))
        for f in self.findings:
            shown = "".join(f"\n      {p}" for p in f.paths[:8]) + (tr("\n      ... and {value} more",
                                                                       value=len(f.paths) - 8)
                                                                     if len(f.paths) > 8 else "")
            level = tr("warning") if f.level == "warning" else tr("error")  # f.level: the JSON's word, in English
            lines.append(tr("  {level}: {what}{shown}", level=level, what=f.what, shown=shown))
        verdict = [tr("clean"), tr("warnings: worth a look before training"),
                   tr("errors: training would refuse this folder")][self.status]
        lines.append(tr("data check of {root}: {n_pictures:,} files, {verdict}",
                        root=self.root, n_pictures=len(self.pictures), verdict=verdict))
        return "\n".join(lines)

    def save(self, output: str | Path) -> None:
        """<output>.json (everything, machine-readable) and <output>.png (counts, sizes, modes)."""
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(output.with_suffix(".json"), json.dumps(
            {"root": self.root, "status": self.status, "counts": self.counts,
             "findings": [vars(f) for f in self.findings], "pictures": self.pictures}, indent=1, ensure_ascii=False))
        plot_check(self, output.with_suffix(".png"))


def _inventory(root: Path, labels: str | Path | None) -> tuple[list[tuple[Path, str, str]], list[Finding]]:
    """[(file, split, class)] and layout findings, leniently: unlike training, an empty class is reported, not
    raised."""
    if labels:
        classes, samples = scan_labels(root, labels)
        return [(p, split, classes[k]) for split, items in samples.items() for p, k in items], []
    splits = find_splits(root)
    files, findings = [], []
    class_sets = {}
    for split, split_dir in splits.items():
        folders = class_folders(split_dir)
        class_sets[split] = {f.name for f in folders}
        for folder in folders:
            found = images_in(folder)
            if not found:
                findings.append(Finding("error", tr("{split}/{name} has no images; add images or remove the folder.",
                                                    split=split, name=folder.name), [str(folder)]))
            files += [(p, split, folder.name) for p in found]
        loose = [p for p in split_dir.iterdir() if p.is_file() and is_image_file(p)]
        if loose and folders:
            findings.append(Finding("warning", tr("{n_loose} picture(s) lie directly in {name}/, outside any class "
                                                  "folder; they are ignored.",
                                                  n_loose=len(loose), name=split_dir.name), [str(p) for p in loose]))
    train = class_sets["train"]
    if not train:
        raise VisionpathError(tr("{train} has no class subfolders. {layout_help}",
                                 train=splits['train'], layout_help=layout_help()))
    if len(train) < 2:
        findings.append(Finding("error", tr("train/ has one class only ({next}); a classifier needs at least two.",
                                            next=next(iter(train)))))
    for split, names in class_sets.items():
        if split == "train":
            continue
        if names - train:
            findings.append(Finding("error", tr("{split}/ has class(es) {sorted} that train/ lacks; the model could "
                                                "never predict them.",
                                                split=split, sorted=', '.join(sorted(names - train)))))
        if train - names:
            findings.append(Finding("warning", tr("{split}/ lacks class(es) {sorted}: {split} scores say nothing "
                                                  "about them.",
                                                  split=split, sorted=', '.join(sorted(train - names)))))
    return files, findings


def _inspect(path: Path) -> dict:
    """One file: its bytes' hash, header facts, and a full decode (truncated files fail here) to a 64-bit
    difference hash: for each of 8 rows of a 9×8 grey thumbnail, whether each pixel is brighter than the next."""
    record: dict = {"bytes": path.stat().st_size}
    record["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        with Image.open(path) as img:
            record.update(format=img.format, mode=img.mode, width=img.width, height=img.height,
                          frames=getattr(img, "n_frames", 1))
        thumb = load_image(path, (8, 9), 1)[0].numpy().astype(np.int16)
        bits = (thumb[:, 1:] > thumb[:, :-1]).flatten()
        record["dhash"] = int("".join("1" if b else "0" for b in bits), 2)
    except Exception as e:  # noqa: BLE001 - every way of failing is a finding, not a crash
        record["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
    return record


def _groups(keys: dict[int, str]) -> list[list[int]]:
    members = defaultdict(list)
    for i, key in keys.items():
        members[key].append(i)
    return [m for m in members.values() if len(m) > 1]


def _near_pairs(hashes: dict[int, int]) -> list[tuple[int, int]]:
    """Pairs whose hashes differ in at most NEAR_BITS bits: two hashes that close agree exactly on at least one of
    four 16-bit bands (pigeonhole), so only pictures sharing a band are compared."""
    pairs = set()
    for band in range(4):
        buckets = defaultdict(list)
        for i, h in hashes.items():
            buckets[(h >> (16 * band)) & 0xFFFF].append(i)
        for members in buckets.values():
            if len(members) > 200:  # a featureless hash (flat pictures) matches everything: not evidence
                continue
            for a in range(len(members)):
                for b in range(a + 1, len(members)):
                    i, j = members[a], members[b]
                    if bin(hashes[i] ^ hashes[j]).count("1") <= NEAR_BITS:
                        pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def check_data(root: str | Path, labels: str | Path | None = None, output: str | Path | None = None) -> DataCheck:
    """Check a folder of photos (the layouts `visionpath train` accepts); print the table and, with `output`,
    write <output>.json and <output>.png. Returns the DataCheck (its .status: 0 clean, 1 warnings, 2 errors)."""
    if output is not None:
        check_output("--output", Path(output).with_suffix(".json"), make_folder=True)
    files, findings = _inventory(Path(root), labels)
    with ThreadPoolExecutor(max_workers=4) as pool, progress_bar() as bar:
        task = bar.add_task(tr("checking pictures"), total=len(files), status="")
        records = []
        for (path, split, name), record in zip(files, pool.map(lambda f: _inspect(f[0]), files)):
            records.append({"path": str(path), "split": split, "class": name, **record})
            bar.advance(task)
    counts: dict[str, dict[str, int]] = {}
    for r in records:
        counts.setdefault(r["split"], {}).setdefault(r["class"], 0)
        if "error" not in r:
            counts[r["split"]][r["class"]] += 1
    readable = [r for r in records if "error" not in r]
    broken = [r for r in records if "error" in r]
    if broken:
        findings.append(Finding("warning", tr("{n_broken} file(s) cannot be decoded (training skips them; --strict "
                                              "stops); remove or replace them.",
                                              n_broken=len(broken)), [f"{r['path']} ({r['error']})" for r in broken]))
    for split, per_class in counts.items():
        present = {c: n for c, n in per_class.items() if n}
        if len(present) > 1 and max(present.values()) > IMBALANCE_RATIO * min(present.values()):
            big, small = max(present, key=present.get), min(present, key=present.get)
            findings.append(Finding("warning", tr("{split} is unbalanced: {big} has {present:,} pictures, {small} "
                                                  "{present2:,} ({value:.1f}:1); watch balanced accuracy (train "
                                                  "weights the classes by default: --balance auto).",
                                                  split=split, big=big, present=present[big], small=small,
                                                  present2=present[small], value=present[big] / present[small])))
        empty = [c for c, n in per_class.items() if n == 0 and any(r["class"] == c and r["split"] == split
                                                                    for r in broken)]
        for c in empty:
            findings.append(Finding("error", tr("{split}/{c} has no readable pictures.", split=split, c=c)))
    findings += _picture_findings(readable) + _duplicate_findings(records)

    report = DataCheck(str(root), counts, records, findings)
    say(report.table())
    if output:
        report.save(output)
        say(tr("written: {file_json}, {file_png}",
               file_json=Path(output).with_suffix('.json'), file_png=Path(output).with_suffix('.png')))
    return report


def _picture_findings(readable: list[dict]) -> list[Finding]:
    """Pictures too small to learn from, odd ones out in format or colour mode, and multi-frame files."""
    findings = []
    tiny = [r for r in readable if min(r["width"], r["height"]) < TINY_SIDE]
    if tiny:
        sizes = [tr("{path} ({width}×{height})", path=r["path"], width=r["width"], height=r["height"]) for r in tiny]
        findings.append(Finding("warning", tr("{n_tiny} tiny picture(s) (shorter side under {TINY_SIDE} px): little "
                                              "for the model to see.", n_tiny=len(tiny), TINY_SIDE=TINY_SIDE), sizes))
    for key, name in (("format", tr("file format")), ("mode", tr("colour mode"))):
        shares = Counter(r[key] for r in readable)
        common, n_common = shares.most_common(1)[0] if shares else (None, 0)
        for value, n in shares.items():
            if value != common and n < RARE_SHARE * len(readable):
                odd = [r for r in readable if r[key] == value]
                findings.append(Finding("warning", tr("{n} picture(s) have {name} {value} where {n_common:,} of "
                                                      "{n_readable:,} are {common}: an odd one out (a placeholder, "
                                                      "a screenshot, a scan?); check them.",
                                                      n=n, name=name, value=value, n_common=n_common,
                                                      n_readable=len(readable), common=common),
                                                   [r["path"] for r in odd]))
    multi = [r for r in readable if r.get("frames", 1) > 1]
    if multi:
        findings.append(Finding("warning", tr("{n_multi} multi-frame picture(s) (animated GIF, multi-page TIFF): "
                                              "only the first frame is used.",
                                              n_multi=len(multi)), [r["path"] for r in multi]))
    return findings


def _duplicate_findings(records: list[dict]) -> list[Finding]:
    """Exact and near duplicates: across splits (a leak), with different classes (a wrong label), or within one."""
    findings = []

    def describe(group: list[int], kind: str) -> None:
        splits = {records[i]["split"] for i in group}
        names = {records[i]["class"] for i in group}
        paths = [records[i]["path"] for i in group]
        if len(splits) > 1:
            findings.append(Finding("warning", tr("{kind} across splits ({sorted}): a leak, the same photo is "
                                                  "trained on and scored on, which inflates the score; keep it in "
                                                  "one split.",
                                                  kind=kind, sorted=' and '.join(sorted(splits))), paths))
        elif len(names) > 1:
            findings.append(Finding("warning", tr("{kind} with different classes ({sorted}) in {next}: at least one "
                                                  "label is wrong.",
                                                  kind=kind, sorted=', '.join(sorted(names)),
                                                  next=next(iter(splits))), paths))
        else:
            findings.append(Finding("warning", tr("{kind} within {next}/{next2}: the photo counts twice.",
                                                  kind=kind, next=next(iter(splits)), next2=next(iter(names))), paths))
    exact = _groups({i: r["sha256"] for i, r in enumerate(records) if "error" not in r})
    for group in exact:
        describe(group, tr("{n_group} exact duplicates", n_group=len(group)))
    same = {frozenset(g) for g in exact}
    for i, j in _near_pairs({i: r["dhash"] for i, r in enumerate(records) if "dhash" in r}):
        if not any({i, j} <= g for g in same):
            describe([i, j], tr("near duplicates (the same picture resized, re-encoded or slightly edited)"))
    return findings


@drawn_in_language
def plot_check(report: DataCheck, path: Path) -> None:
    """Three panels: pictures per class and split, the shorter sides' histogram, colour modes and formats."""
    readable = [r for r in report.pictures if "error" not in r]
    classes = sorted({c for per_class in report.counts.values() for c in per_class})
    fig = Figure(figsize=(15, 4.2))
    axes = fig.subplots(1, 3)
    ax = axes[0]
    width = 0.8 / max(1, len(report.counts))
    for k, (split, per_class) in enumerate(report.counts.items()):
        ax.bar(np.arange(len(classes)) + k * width, [per_class.get(c, 0) for c in classes], width, label=split)
    ax.set_xticks(np.arange(len(classes)) + width * (len(report.counts) - 1) / 2, classes,
                  rotation=45 if len(classes) > 6 else 0, ha="right" if len(classes) > 6 else "center")
    ax.set_ylabel(tr("pictures"))
    ax.set_title(tr("pictures per class and split"))
    ax.legend()
    ax = axes[1]
    sides = [min(r["width"], r["height"]) for r in readable]
    if sides:
        ax.hist(sides, bins=30, color="tab:blue")
        ax.axvline(TINY_SIDE, color="tab:red", linestyle="--", label=tr("tiny (< {TINY_SIDE} px)",
                                                                        TINY_SIDE=TINY_SIDE))
        ax.legend()
    ax.set_xlabel(tr("shorter side (pixels)"))
    ax.set_ylabel(tr("pictures"))
    ax.set_title(tr("picture sizes"))
    ax = axes[2]
    kinds = Counter(f"{r['format']} {r['mode']}" for r in readable)
    broken = len(report.pictures) - len(readable)
    labels_, values = list(kinds), list(kinds.values())
    if broken:
        labels_.append("unreadable")
        values.append(broken)
    ax.barh(labels_, values, color=["tab:red" if name == "unreadable" else "tab:gray" for name in labels_])
    ax.set_xscale("log")
    ax.set_xlabel(tr("pictures (log scale)"))
    ax.set_title(tr("format and colour mode"))
    fig.suptitle(tr("data check of {root}: {n_findings} finding(s)",
                    root=report.root, n_findings=len(report.findings)))
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def quick_check(dataset) -> str:
    """The fast part of the check, for the start of training: one line on what loading found, plus exact
    duplicates (same bytes) within and across splits, which a content hash finds in seconds."""
    where = defaultdict(list)
    known = read_file_cache("hashes")  # a second run does not read every photo again
    learnt = {}
    for split, images in (("train", dataset.train), ("validation", dataset.validation), ("test", dataset.test)):
        if images is not None and images.paths is not None:
            for path in images.paths:
                key = file_key(Path(path))
                if key not in known:
                    known[key] = learnt[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                where[known[key]].append(split)
    write_file_cache("hashes", learnt)
    repeated = [splits for splits in where.values() if len(splits) > 1]
    across = sum(1 for splits in repeated if len(set(splits)) > 1)
    counts = np.bincount(dataset.train.labels.numpy(), minlength=len(dataset.classes)).tolist()
    parts = [tr("{sum:,} pictures read", sum=sum(len(s) for s in where.values())),
             tr("{count} skipped", count=len(dataset.folder.unreadable)),
             tr("classes {value:.1f}:1 (largest to smallest)", value=max(counts) / max(1, min(counts))),
             tr("{value} exact duplicate group(s) within a split", value=len(repeated) - across),
             tr("{across} across splits", across=across)
             + (tr(" (a leak: the same photo trained on and scored on)") if across else "")]
    return (tr("data check: {parts}. `visionpath data check {root}` also looks for near duplicates, tiny and odd "
               "files.",
               parts=tr("; ").join(parts), root=dataset.folder.root))

