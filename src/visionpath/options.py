"""Options, each declared once: its help, type, range and choices, where it is taken. A training setting is a field
of `TrainConfig` (config.py); every other command's options are the parameters of the function it calls, each
annotated `Annotated[type, Option(...)]`. One validator checks a value against its declaration (`check`), with one
sentence that names the flag, before any work starts; `checked` does it for every argument of a call; the command
line's parsers are generated from the same declarations (cli.py), so a flag, its help and its range are never
written twice.
"""
from __future__ import annotations

import functools
import inspect
import math
import os
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import VisionpathError
from .i18n import tr


@dataclass(frozen=True)
class Option:
    """How an option is given and what it may be. valid: its range, as "≥ 1", "> 0" or an interval such as
    "[0, 1)". choices: the values allowed. path: "output" for a file to write (its folder must exist and be
    writable), "folder" for a folder to read. positional: given without a flag on the command line. hidden: left
    out of the command line's help (for the processes a command starts)."""
    help: str
    valid: str | None = None
    choices: tuple = ()
    metavar: str | None = None
    path: str | None = None
    positional: bool = False
    hidden: bool = False


def flag(name: str) -> str:
    """The command-line flag of an option: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


# ---------------------------------------------------------------------------------------------- the validator

def check(name: str, value, kind: type | tuple[type, ...], option: Option, allows_none: bool = False) -> None:
    """`value` of the option `name` is of `kind` (int: a whole number; float: any number; bool: True or False; str:
    text or a path; a tuple: any of them), finite, among its choices and in its range, and a path it names can be
    used; otherwise one sentence that names the flag and says what it must be."""
    if value is None and allows_none:
        return
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not any(is_a(value, k) for k in kinds):
        raise VisionpathError(tr("{flag} must be {words} (got {value!r}).",
                                 flag=flag(name), words=words(kinds[-1], option.valid), value=value))
    kind = next(k for k in kinds if is_a(value, k))
    if kind is float and not math.isfinite(value):
        raise VisionpathError(tr("{flag} must be a finite number (got {value}).", flag=flag(name), value=value))
    if option.choices and value not in option.choices:
        raise VisionpathError(tr("unknown {flag} '{value}'; choose from {choices}.",
                                 flag=flag(name), value=value, choices=', '.join(map(str, option.choices))))
    if option.valid and kind in (int, float) and not Interval.parse(option.valid).contains(value):
        raise VisionpathError(tr("{flag} must be {words} (got {value}).",
                                 flag=flag(name), words=words(kind, option.valid), value=value))
    if option.path == "output":
        check_output(flag(name), value)
    elif option.path == "folder":
        check_folder(flag(name), value)


def is_a(value, kind: type) -> bool:
    if kind is bool or isinstance(value, bool):  # True is an int to Python, not to a person
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float))
    if kind is str:
        return isinstance(value, (str, os.PathLike))
    return isinstance(value, kind)


def words(kind: type, valid: str | None) -> str:
    """"a whole number of at least 1", "positive", "between 0 and 1": how a sentence names what is allowed."""
    if kind is bool:
        return tr("true or false")
    if kind is str:
        return tr("text")
    interval = Interval.parse(valid) if valid else None
    number = tr("a whole number") if kind is int else tr("a number")
    if interval is None:
        return number
    if interval.high is None:
        if interval.low == 0:
            return tr("{number}, 0 or more", number=number) if kind is int else (
                tr("positive") if interval.open_low else tr("zero or positive"))
        return tr("{number} of at least {low:g}", number=number, low=interval.low) if not interval.open_low else \
            tr("{number} above {low:g}", number=number, low=interval.low)
    if not interval.open_low and not interval.open_high:
        return tr("{number} between {low:g} and {high:g}", number=number, low=interval.low, high=interval.high) \
            if kind is int else tr("between {low:g} and {high:g}", low=interval.low, high=interval.high)
    return tr("in {valid}", valid=valid)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float | None
    open_low: bool
    open_high: bool

    @classmethod
    def parse(cls, text: str) -> "Interval":
        """"≥ 1", "> 0", or an interval such as "[0, 1)"."""
        if text[0] in "≥>":
            return cls(float(text[1:]), None, text[0] == ">", True)
        match = re.fullmatch(r"([\[(])\s*([-\d.e]+)\s*,\s*([-\d.e]+)\s*([\])])", text)
        return cls(float(match[2]), float(match[3]), match[1] == "(", match[4] == ")")

    def contains(self, value: float) -> bool:
        above = value > self.low if self.open_low else value >= self.low
        below = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return above and below


# ---------------------------------------------------------------------------------------------------- paths

def check_output(flag_: str, path: str | Path, make_folder: bool = False) -> None:
    """A file about to be written: its folder exists (or, with make_folder, is made now) and is writable, and it is
    not itself a folder."""
    path = Path(path)
    folder = path.parent
    if make_folder:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise VisionpathError(tr("{flag} {path}: cannot make the folder {folder} ({strerror}).",
                                     flag=flag_, path=path, folder=folder, strerror=e.strerror)) from None
    if path.is_dir():
        raise VisionpathError(tr("{flag} {path} is a folder; give the name of a file to write.",
                                 flag=flag_, path=path))
    if not folder.is_dir():
        raise VisionpathError(tr("{flag} {path}: the folder {folder} does not exist; create it first, or write "
                                 "somewhere else.",
                                 flag=flag_, path=path, folder=folder))
    if not os.access(folder, os.W_OK):
        raise VisionpathError(tr("{flag} {path}: the folder {folder} is not writable; write somewhere else.",
                                 flag=flag_, path=path, folder=folder))


def check_folder(flag_: str, path: str | Path) -> None:
    """A folder to read from exists."""
    if not Path(path).is_dir():
        raise VisionpathError(tr("{flag} {path} is not a folder.", flag=flag_, path=path))


def check_project(project: str | Path) -> None:
    """The folder that will hold run folders: a folder (or nothing yet, under a writable folder)."""
    path = Path(project)
    if path.exists() and not path.is_dir():
        raise VisionpathError(tr("--project {path} is a file; give a folder to hold the run folders.", path=path))
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not os.access(existing, os.W_OK):
        raise VisionpathError(tr("--project {path}: {existing} is not writable; give a folder you can write in.",
                                 path=path, existing=existing))


# -------------------------------------------------------------------------------- options of a function

@dataclass(frozen=True)
class Declared:
    """One declared parameter of a function: its name, type (int, float, str, bool; `many` for a list of them),
    whether None is allowed, its default (inspect.Parameter.empty: none) and its Option."""
    name: str
    kind: tuple[type, ...]  # the kinds a value may be; the command line reads the first
    many: bool
    allows_none: bool
    default: object
    option: Option


def declared(function: Callable) -> list[Declared]:
    """The parameters of `function` annotated with an Option, in order."""
    function = inspect.unwrap(function)
    hints = typing.get_type_hints(function, include_extras=True)
    found = []
    for name, parameter in inspect.signature(function).parameters.items():
        hint = hints.get(name)
        if typing.get_origin(hint) is not typing.Annotated:
            continue
        base, *extras = typing.get_args(hint)
        option = next((e for e in extras if isinstance(e, Option)), None)
        if option is None:
            continue
        kind, many, allows_none = base_kind(base)
        found.append(Declared(name, kind, many, allows_none, parameter.default, option))
    return found


def base_kind(hint) -> tuple[tuple[type, ...], bool, bool]:
    """(the kinds a value may be, of str, bool, int and float, text first; whether a list of them is allowed;
    whether None is) of a type hint such as `list[str | Path] | str | Path | None`. A path is text."""
    members = union_members(hint)
    lists = [m for m in members if typing.get_origin(m) is list]
    plain = {m for m in members if m not in lists} | {a for m in lists for a in union_members(typing.get_args(m)[0])}
    plain = {str if m is Path or m is os.PathLike else m for m in plain}
    kinds = tuple(k for k in (str, bool, int, float) if k in plain)
    return kinds or (str,), bool(lists), type(None) in members


def union_members(hint) -> tuple:
    """The types of a union (`int | None`: int and NoneType), or the type itself."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


def checked(function: Callable) -> Callable:
    """`function`, checking every declared parameter of a call before it runs: the arguments given and the
    defaults (a default path too must be writable), a list's items each."""
    signature, params = inspect.signature(function), None

    @functools.wraps(function)
    def call(*args, **kwargs):
        nonlocal params
        if params is None:  # the hints are read on the first call: every name they use is defined by then
            params = {d.name: d for d in declared(function)}
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            if (d := params.get(name)) is not None:
                for item in (value if d.many and isinstance(value, (list, tuple)) else [value]):
                    check(name, item, d.kind, d.option, d.allows_none)
        return function(*args, **kwargs)
    return call


# ------------------------------------------------------------------------ options several commands share

DEVICES = "auto (a GPU when there is one), cpu, cuda or mps"
DEVICE = Option("where the model runs: " + DEVICES)
RUN = Option("a run folder or a checkpoint file", positional=True)
RUN_OR_EXPORTED = Option("a run folder, a checkpoint file, or a model.onnx written by `visionpath export`",
                         positional=True)
DATA = Option("a built-in dataset (mnist, cifar10, ...) or a folder of class subfolders", positional=True)
DATA_DIR = Option("folder with local copies of the built-in datasets", metavar="DIR")
MOVED_DATA = Option("where the data is, if not where it was during training", metavar="DIR", path="folder")
PICTURE_OUTPUT = Option("the PNG to write", path="output")
PROBABILITY = Option("mark answers below this probability as uncertain", valid="[0, 1]", metavar="P")
