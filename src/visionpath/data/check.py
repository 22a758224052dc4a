"""`visionpath data check`: is this folder of photos fit to train on, and can its test score be trusted?

Per split and class: counts, share and balance; image sizes, modes and formats; unreadable files; tiny images;
exact duplicates (same bytes) and near duplicates (the same picture resized, re-encoded, slightly cropped or
recoloured: proposed by a cheap measure, confirmed by a stronger one, near.py) within and across splits, because
a photo that is in both train and test inflates the test score; classes that one split lacks. Errors stop training
(exit status 2), warnings deserve a look (1), clean is 0.

What it says: a summary a person reads (counts by kind and the first few of each, at most 60 lines however large
the folder); the JSON, every finding with a stable `kind` a program counts; a page with the pictures of every
finding (check_page.py).
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
from PIL import Image

from ..console import padded, progress_bar, say
from ..errors import VisionpathError
from ..files import atomic_write, json_text
from ..i18n import plural, tr
from ..options import Option, check_output, checked
from .sets import UNBALANCED, imbalance
from .check_page import plot_check, write_check_page
from .leaks import remember_near_copies
from .layout import class_folders, find_splits, images_in, layout_help, scan_labels
from .images import is_image_file, open_whole
from .near import SIDE, joined, near_among_files, thumbnails
from .suspects import SUSPECTS_FILE, Disputed, read_suspects

TINY_SIDE = 32          # pictures with a shorter side below this carry little for a 224-px backbone
RARE_SHARE = 0.05       # a file format or colour mode below this share of the pictures is an outlier
SHORTCUT_LEAST = 10     # pictures sharing a value of a file property, all of one class, before it can be a shortcut
PLAIN_BORDER = 3.0      # the largest spread of grey levels (of 255) around a thumbnail's edge that is a plain border
SUMMARY_LINES = 60      # the terminal's summary stays under this, whatever the folder's size; the rest is in the JSON


def kinds() -> dict[str, tuple[str, str]]:
    """Every kind of finding: its stable code (the JSON's `kind`, which the README lists) -> (its name in the
    summary, what to do about a group of it; "" where each finding's own sentence says it)."""
    leak = tr("a leak: the same photo is trained on and scored on, which inflates the score; keep each group in "
              "one split (`visionpath data split` keeps them together).")
    return {
        "no-images": (tr("class folders with no images"), ""),
        "loose-pictures": (tr("pictures outside any class folder"), ""),
        "one-class": (tr("train/ with one class only"), ""),
        "class-not-in-train": (tr("classes that train/ lacks"), ""),
        "class-missing": (tr("classes a split lacks"), ""),
        "unreadable": (tr("files that cannot be decoded"), ""),
        "no-readable-pictures": (tr("classes with no readable picture"), ""),
        "unbalanced": (tr("unbalanced splits"), ""),
        "tiny": (tr("tiny pictures"), ""),
        "odd-format": (tr("odd file formats"), ""),
        "odd-mode": (tr("odd colour modes"), ""),
        "multi-frame": (tr("multi-frame files"), ""),
        "shortcut": (tr("file properties that tell the classes apart"), ""),
        "disputed-label": (tr("training labels a run disputes"), ""),
        "exact-leak": (tr("exact duplicates across splits"), leak),
        "exact-two-classes": (tr("exact duplicates with different classes"),
                              tr("the same bytes under two classes: at least one label is wrong; keep the right "
                                 "one.")),
        "exact-within": (tr("exact duplicates within a class"),
                         tr("the photo counts twice in training; keep one copy.")),
        "near-leak": (tr("near duplicates across splits"), leak),
        "near-two-classes": (tr("near duplicates with different classes"),
                             tr("the same picture, resized or re-encoded, under two classes: look at them; at least "
                                "one label is wrong.")),
        "near-within": (tr("near duplicates within a class"),
                        tr("the picture counts twice in training; keep one copy.")),
    }


@dataclass
class Finding:
    kind: str           # a stable code (kinds()): what a program counts
    level: str          # "error" or "warning"
    what: str           # one sentence
    paths: list[str] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)  # what it counts: pictures, splits, classes, a ratio


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

    @property
    def verdict(self) -> str:
        """The status in words, for the summary and the page."""
        return [tr("clean"), tr("warnings: worth a look before training"),
                tr("errors: training would refuse this folder")][self.status]

    def table(self, details: str | Path | None = None) -> str:
        """What a person reads, whatever the folder's size (at most SUMMARY_LINES lines): the pictures per class
        and split, the findings counted by kind, the first few of each kind with their paths, and where the rest
        is (`details`: the JSON written, if any)."""
        lines = self.count_lines()
        grouped = self.by_kind()
        names = kinds()
        if grouped:
            lines += ["", tr("findings, by kind (the JSON's `kind` in brackets):")]
        for kind, found in grouped.items():
            splits = sorted({s for f in found for s in f.numbers.get("splits", [])})
            classes = sorted({c for f in found for c in f.numbers.get("classes", [])})
            level = tr("error") if found[0].level == "error" else tr("warning")  # .level: the JSON's word
            lines.append(tr("  {level} {count:>7,} × {title} [{kind}]{where}",
                            level=padded(level, 8), count=count(kind, found), title=names[kind][0], kind=kind,
                            where=tr(": {splits}; {classes}", splits=", ".join(splits),
                                     classes=plural(len(classes), "class")) if splits else ""))
        footer = [tr("data check of {root}: {n_pictures:,} files, {verdict}",
                     root=self.root, n_pictures=len(self.pictures), verdict=self.verdict)]
        if grouped:
            footer.append(tr("every finding, with its paths: {details}", details=details) if details else
                          tr("every finding, with its paths: `visionpath data check --output NAME` (or check_data's "
                             "output=) writes them to NAME.json"))
        for shown in (3, 2, 1, 0):  # as many examples of each kind as keep the whole under SUMMARY_LINES
            body = [line for kind, found in grouped.items() for line in self.examples(kind, found, shown)]
            if len(lines) + len(body) + len(footer) <= SUMMARY_LINES:
                break
        return "\n".join(lines + body + footer)

    def count_lines(self, most: int = 12) -> list[str]:
        """Pictures per class and split (the first `most` classes; all of them are in the JSON)."""
        classes = sorted({c for per_class in self.counts.values() for c in per_class})
        width = min(30, max(10, *(len(c) for c in classes[:most])))
        splits = list(self.counts)
        lines = [padded(tr("class"), width) + "".join(f"{s:>18}" for s in splits)]
        for c in classes[:most]:
            cells = []
            for s in splits:
                n, total = self.counts[s].get(c, 0), sum(self.counts[s].values())
                cells.append(f"{n:>9,} ({n / max(1, total):4.0%})")
            lines.append(padded(c[:width], width) + "".join(f"{cell:>18}" for cell in cells))
        if len(classes) > most:
            lines.append(tr("... and {count:,} more classes", count=len(classes) - most))
        lines.append(padded(tr("total"), width) + "".join(f"{sum(self.counts[s].values()):>18,}" for s in splits))
        return lines

    def by_kind(self) -> dict[str, list[Finding]]:
        """The findings grouped by kind: errors first, then in the order of kinds()."""
        order = list(kinds())
        grouped: dict[str, list[Finding]] = {}
        for f in sorted(self.findings, key=lambda f: (f.level != "error", order.index(f.kind))):
            grouped.setdefault(f.kind, []).append(f)
        return grouped

    def examples(self, kind: str, found: list[Finding], shown: int) -> list[str]:
        """The first `shown` findings of one kind: the kind's advice and each group's paths on one line, or (for a
        kind whose findings each say something different) each finding's sentence and its first paths."""
        if not shown:
            return []
        title, advice = kinds()[kind]
        more = [tr("    ... and {count:,} more", count=len(found) - shown)] if len(found) > shown else []
        if advice and len(found) > 1:
            return [f"  {title}: {advice}", *("    " + " = ".join(self.short(p) for p in f.paths)[:200]
                                              for f in found[:shown]), *more]
        lines = []
        for f in found[:shown]:
            lines.append(f"  {f.what}")
            lines += ["      " + self.short(p) for p in f.paths[:shown]]
            if len(f.paths) > shown:
                lines.append(tr("      ... and {value} more", value=len(f.paths) - shown))
        return lines + more

    def short(self, path: str) -> str:
        """A path as the folder's own: relative to the folder checked."""
        return path[len(self.root):].lstrip("/\\") if path.startswith(self.root) else path

    def save(self, output: str | Path) -> None:
        """<output>.json (everything, machine-readable), <output>.png (counts, sizes, modes) and <output>.html (a
        thumbnail of every picture a finding names)."""
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(output.with_suffix(".json"), json_text(
            {"root": self.root, "status": self.status, "counts": self.counts,
             "kinds": {kind: {"level": found[0].level, "count": count(kind, found),
                              "paths": sum(len(f.paths) for f in found)}
                       for kind, found in self.by_kind().items()},
             "findings": [vars(f) for f in self.findings], "pictures": self.pictures}, indent=1))
        plot_check(self, output.with_suffix(".png"), TINY_SIDE)
        write_check_page(self, kinds(), count, output.with_suffix(".html"))


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
                findings.append(Finding("no-images", "error", tr(
                    "{split}/{name} has no images; add images or remove the folder.", split=split, name=folder.name),
                    [str(folder)], {"splits": [split], "classes": [folder.name]}))
            files += [(p, split, folder.name) for p in found]
        loose = [p for p in split_dir.iterdir() if p.is_file() and is_image_file(p)]
        if loose and folders:
            findings.append(Finding("loose-pictures", "warning", tr(
                "{n_loose} picture(s) lie directly in {name}/, outside any class folder; they are ignored.",
                n_loose=len(loose), name=split_dir.name), [str(p) for p in loose],
                {"pictures": len(loose), "splits": [split]}))
    train = class_sets["train"]
    if not train:
        raise VisionpathError(tr("{train} has no class subfolders. {layout_help}",
                                 train=splits['train'], layout_help=layout_help()))
    if len(train) < 2:
        findings.append(Finding("one-class", "error", tr(
            "train/ has one class only ({next}); a classifier needs at least two.", next=next(iter(train))),
            numbers={"classes": sorted(train)}))
    for split, names in class_sets.items():
        if split == "train":
            continue
        if names - train:
            findings.append(Finding("class-not-in-train", "error", tr(
                "{split}/ has class(es) {sorted} that train/ lacks; the model could never predict them.",
                split=split, sorted=', '.join(sorted(names - train))),
                numbers={"splits": [split], "classes": sorted(names - train)}))
        if train - names:
            findings.append(Finding("class-missing", "warning", tr(
                "{split}/ lacks class(es) {sorted}: {split} scores say nothing about them.",
                split=split, sorted=', '.join(sorted(train - names))),
                numbers={"splits": [split], "classes": sorted(train - names)}))
    return files, findings


def _inspect(path: Path) -> tuple[dict, tuple[np.ndarray, np.ndarray] | None]:
    """One file: its bytes' hash, header facts, and a full decode (truncated files fail here) to the thumbnails
    near duplicates are found by (near.thumbnails), or None where it cannot be decoded."""
    record: dict = {"bytes": path.stat().st_size}
    record["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        with Image.open(path) as img:
            record.update(format=img.format, mode=img.mode, width=img.width, height=img.height,
                          frames=getattr(img, "n_frames", 1))
        return record, thumbnails(open_whole(path, SIDE))
    except Exception as e:  # noqa: BLE001 - every way of failing is a finding, not a crash
        record["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
        return record, None


def _groups(keys: dict[int, str]) -> list[list[int]]:
    members = defaultdict(list)
    for i, key in keys.items():
        members[key].append(i)
    return [m for m in members.values() if len(m) > 1]


@checked
def check_data(root: Annotated[str | Path, Option("a folder of photos, in any layout that `visionpath train` accepts",
                                                  positional=True)],
               labels: Annotated[str | Path | None, Option("classes from a CSV of filename,label[,split]",
                                                           metavar="CSV")] = None,
               output: Annotated[str | Path | None, Option(
                   "write <output>.json, <output>.png and <output>.html, a page with every finding's pictures (the "
                   "command's default: <folder name>-check)")] = None,
               run: Annotated[str | Path | None, Option("a run trained on the folder: the training labels it "
                                                        "disputes join the findings")] = None) -> DataCheck:
    """Check a folder of photos (the layouts `visionpath train` accepts); print the table and, with `output`,
    write <output>.json and <output>.png. run: a run folder trained on it, whose disputed training labels
    (suspects.csv) join the findings. Returns the DataCheck (its .status: 0 clean, 1 warnings, 2 errors)."""
    if output is not None:
        check_output("--output", Path(output).with_suffix(".json"), make_folder=True)
    disputed = read_suspects(run) if run is not None else None
    if run is not None and disputed is None:
        raise VisionpathError(tr("{run} has no {SUSPECTS_FILE}: only a run of a pretrained backbone (stage 1 on "
                                 "cached features) looks for disputed labels; train one with no --model.",
                                 run=run, SUSPECTS_FILE=SUSPECTS_FILE))
    files, findings = _inventory(Path(root), labels)
    with ThreadPoolExecutor(max_workers=4) as pool, progress_bar() as bar:
        task = bar.add_task(tr("checking pictures"), total=len(files), status="")
        records, thumbs = [], {}
        for (path, split, name), (record, thumb) in zip(files, pool.map(lambda f: _inspect(f[0]), files)):
            if thumb is not None:
                thumbs[len(records)] = thumb
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
        findings.append(Finding("unreadable", "warning", tr(
            "{n_broken} file(s) cannot be decoded (training skips them; --strict stops); remove or replace them.",
            n_broken=len(broken)), [r["path"] for r in broken],
            {**where(broken), "errors": [r["error"] for r in broken]}))
    for split, per_class in counts.items():
        present = {c: n for c, n in per_class.items() if n}
        if (ratio := imbalance(list(present.values()))) > UNBALANCED:
            big, small = max(present, key=present.get), min(present, key=present.get)
            findings.append(Finding("unbalanced", "warning", tr(
                "{split} is unbalanced: {big} has {present:,} pictures, {small} {present2:,} ({value:.1f}:1); watch "
                "balanced accuracy (train weights the classes by default: --balance auto).",
                split=split, big=big, present=present[big], small=small, present2=present[small], value=ratio),
                numbers={"splits": [split], "classes": [big, small], "ratio": round(ratio, 2)}))
        empty = [c for c, n in per_class.items() if n == 0 and any(r["class"] == c and r["split"] == split
                                                                    for r in broken)]
        for c in empty:
            findings.append(Finding("no-readable-pictures", "error", tr(
                "{split}/{c} has no readable pictures.", split=split, c=c),
                numbers={"splits": [split], "classes": [c]}))
    findings += _picture_findings(readable) + _shortcut_findings(records, thumbs) + \
        _duplicate_findings(records, thumbs) + _disputed_findings(records, disputed or [], run)

    report = DataCheck(str(root), counts, records, findings)
    say(report.table(Path(output).with_suffix(".json") if output else None))
    if output:
        report.save(output)
        say(tr("written: {file_json}, {file_png}, {file_html} (every finding's pictures, side by side)",
               file_json=Path(output).with_suffix('.json'), file_png=Path(output).with_suffix('.png'),
               file_html=Path(output).with_suffix('.html')))
    return report


def _picture_findings(readable: list[dict]) -> list[Finding]:
    """Pictures too small to learn from, odd ones out in format or colour mode, and multi-frame files."""
    findings = []
    tiny = [r for r in readable if min(r["width"], r["height"]) < TINY_SIDE]
    if tiny:
        findings.append(Finding("tiny", "warning", tr(
            "{n_tiny} tiny picture(s) (shorter side under {TINY_SIDE} px): little for the model to see.",
            n_tiny=len(tiny), TINY_SIDE=TINY_SIDE), [r["path"] for r in tiny], where(tiny)))
    for key, name, kind in (("format", tr("file format"), "odd-format"), ("mode", tr("colour mode"), "odd-mode")):
        shares = Counter(r[key] for r in readable)
        common, n_common = shares.most_common(1)[0] if shares else (None, 0)
        for value, n in shares.items():
            if value != common and n < RARE_SHARE * len(readable):
                odd = [r for r in readable if r[key] == value]
                findings.append(Finding(kind, "warning", tr(
                    "{n} picture(s) have {name} {value} where {n_common:,} of {n_readable:,} are {common}: an odd one "
                    "out (a placeholder, a screenshot, a scan?); check them.",
                    n=n, name=name, value=value, n_common=n_common, n_readable=len(readable), common=common),
                    [r["path"] for r in odd], where(odd)))
    multi = [r for r in readable if r.get("frames", 1) > 1]
    if multi:
        findings.append(Finding("multi-frame", "warning", tr(
            "{n_multi} multi-frame picture(s) (animated GIF, multi-page TIFF): only the first frame is used.",
            n_multi=len(multi)), [r["path"] for r in multi], where(multi)))
    return findings


def _disputed_findings(records: list[dict], disputed: list[Disputed], run: str | Path | None) -> list[Finding]:
    """The checked folder's training pictures whose labels `run` disputes (suspects.csv), the most disputed first."""
    here = {Path(r["path"]).resolve(): r for r in records}
    mine = [(d, here[Path(d.path).resolve()]) for d in disputed if Path(d.path).resolve() in here]
    if not mine:
        return []
    return [Finding("disputed-label", "warning", tr(
        "{n} training picture(s) whose label the run {run} disputes: a head on its frozen features, fitted without "
        "each, gives another class confidently. Often the label is wrong, sometimes the photo is odd: look at them "
        "(the most disputed first) before relabelling.", n=len(mine), run=run), [r["path"] for _, r in mine],
        {**where([r for _, r in mine]), "labels": [{"given": d.given, "predicted": d.predicted}
                                                    for d, _ in mine]})]


def border(grey: np.ndarray) -> str:
    """What frames a picture, from its grey thumbnail's outer two pixels: a plain white or black border (padding,
    a scanner's bed, letterboxing), or none."""
    ring = np.concatenate([grey[:2].ravel(), grey[-2:].ravel(), grey[:, :2].ravel(), grey[:, -2:].ravel()])
    if ring.std() > PLAIN_BORDER:
        return tr("no plain border")
    return tr("a white border") if ring.mean() > 230 else tr("a black border") if ring.mean() < 25 else \
        tr("a plain grey or coloured border")


def _shortcut_findings(records: list[dict], thumbs: dict[int, tuple[np.ndarray, np.ndarray]]) -> list[Finding]:
    """Properties of the files, not of what they show, that tell training classes apart: a value of a property
    (file format, colour mode, size, border) that at least SHORTCUT_LEAST training pictures have, all of one class,
    a quarter of that class or more, and too many to be chance (were the property unrelated to the class, as many
    of one class: under 1 in 1,000 across every value tested). A model can learn the property instead of the
    subject, and a test split made the same way will not show it."""
    train = [(i, r) for i, r in enumerate(records) if r["split"] == "train" and "error" not in r]
    per_class = Counter(r["class"] for _, r in train)
    properties = {tr("file format"): {i: r["format"] for i, r in train},
                  tr("colour mode"): {i: r["mode"] for i, r in train},
                  tr("size"): {i: f"{r['width']}×{r['height']}" for i, r in train},
                  tr("border"): {i: border(thumbs[i][0]) for i, _ in train if i in thumbs}}
    findings = []
    for name, values in properties.items():
        by_value = defaultdict(list)
        for i, value in values.items():
            by_value[value].append(i)
        tested = max(1, sum(len(members) >= SHORTCUT_LEAST for members in by_value.values()))
        telling = {}
        for value, members in by_value.items():
            classes = Counter(records[i]["class"] for i in members)
            (only, n), = classes.most_common(1)
            share = per_class[only] / len(train)
            if len(classes) == 1 and n >= SHORTCUT_LEAST and n >= per_class[only] / 4 and \
                    share ** n < 1e-3 / tested and len(per_class) > 1:
                telling[value] = (only, n)
        if telling:
            which = "; ".join(tr("{value}: {n} of {only}'s {of}", value=value, n=n, only=only, of=per_class[only])
                              for value, (only, n) in telling.items())
            members = [records[i] for value in telling for i in by_value[value]]
            findings.append(Finding("shortcut", "warning", tr(
                "the {name} tells training classes apart ({which}, no other class): a model can learn it instead "
                "of what the pictures show, and a test split made the same way will not tell. Make the classes "
                "alike in it (convert, resize or crop the files), or check on pictures from elsewhere.",
                name=name, which=which), [r["path"] for r in members],
                {**where(members), "property": name, "values": {v: {c: n} for v, (c, n) in telling.items()}}))
    return findings


def count(kind: str, found: list[Finding]) -> int:
    """How many of a kind: groups (of duplicates) as groups, the other kinds by the files or folders they name."""
    return len(found) if kinds()[kind][1] else sum(len(f.paths) or 1 for f in found)


def where(records: list[dict]) -> dict:
    """A finding's numbers: how many pictures, in which splits and classes."""
    return {"pictures": len(records), "splits": sorted({r["split"] for r in records}),
            "classes": sorted({r["class"] for r in records})}


def _duplicate_findings(records: list[dict], thumbs: dict[int, tuple[np.ndarray, np.ndarray]]) -> list[Finding]:
    """Exact and near duplicates: across splits (a leak), with different classes (a wrong label), or within one.
    Near: the same picture resized, re-encoded, slightly cropped or recoloured, confirmed (near.py); pictures
    that merely look alike are not near duplicates."""
    findings = []

    def describe(group: list[int], exact: bool, distance: float = 0.0) -> None:
        members = [records[i] for i in group]
        splits, names = sorted({r["split"] for r in members}), sorted({r["class"] for r in members})
        paths = [r["path"] for r in members]
        what = (tr("{n_group} exact duplicates", n_group=len(group)) if exact else
                tr("near duplicates (the same picture resized, re-encoded or slightly edited)"))
        prefix = "exact" if exact else "near"
        numbers = {**where(members), **({} if exact else {"distance": distance})}  # near: 0 is the same picture
        if len(splits) > 1:
            findings.append(Finding(f"{prefix}-leak", "warning", tr(
                "{kind} across splits ({sorted}): a leak, the same photo is trained on and scored on, which inflates "
                "the score; keep it in one split.", kind=what, sorted=' and '.join(splits)), paths, numbers))
        elif len(names) > 1:
            findings.append(Finding(f"{prefix}-two-classes", "warning", tr(
                "{kind} with different classes ({sorted}) in {next}: at least one label is wrong.",
                kind=what, sorted=', '.join(names), next=splits[0]), paths, numbers))
        else:
            findings.append(Finding(f"{prefix}-within", "warning", tr(
                "{kind} within {next}/{next2}: the photo counts twice.", kind=what, next=splits[0], next2=names[0]),
                paths, numbers))
    exact = _groups({i: r["sha256"] for i, r in enumerate(records) if "error" not in r})
    for group in exact:
        describe(group, exact=True)
    same = {frozenset(g) for g in exact}
    with progress_bar() as bar:  # a minute or more for thousands of pictures alike (README)
        tasks = {}

        def progress(what: str, done: int, total: int) -> None:
            tasks.setdefault(what, bar.add_task(what, total=total, status=""))
            bar.update(tasks[what], completed=done)
        found = near_among_files(thumbs, {i: records[i]["sha256"] for i in thumbs}, progress)
    found = [(i, j, distance) for i, j, distance in found if not any({i, j} <= g for g in same)]
    # near pairs chain into one picture's group, (a, b) and (b, c) alike, with the exact copies of its members
    # (compared once, by their first file): said once, and a leak wherever any member crosses a split
    touched = {k for i, j, _ in found for k in (i, j)}
    copies = [sorted(g) for g in exact if set(g) & touched]
    groups = joined([(i, j) for i, j, _ in found] + copies)
    group_of = {member: n for n, group in enumerate(groups) for member in group}
    largest = [0.0] * len(groups)
    for i, _, distance in found:  # one pass: both members of a pair are in the same group
        largest[group_of[i]] = max(largest[group_of[i]], distance)
    for group, distance in zip(groups, largest):
        describe(sorted(group), exact=False, distance=distance)
    remember_near_copies((records[i]["sha256"] for i in thumbs),  # for honest scores later
                         ([records[i]["sha256"] for i in group] for group in groups))
    return findings
