"""Build the lessons: each source in docs/lessons/source/ becomes one Jupyter notebook per language
(docs/lessons/en/, docs/lessons/ja/), run top to bottom so that it carries the outputs and pictures of a full run.

    python docs/lessons/build.py [LESSON ...] [--quick]     # needs the lessons extra: pip install -e '.[lessons]'
    python docs/lessons/build.py [LESSON ...] --text       # a change of wording only: the prose, not run again

A source is a list of cells: markdown with its text in each language, and code, the same in both languages (so
both show the same commands and the same figures). The first code cell, tagged "parameters", holds
`QUICK = False`; --quick (and the test suite) runs it as `QUICK = True`: a subset and an epoch, a few seconds.
Set VISIONPATH_DATA_DIR to local copies of the data (e.g. ../shared/data) to run without downloading.
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
LANGUAGES = ("en", "ja")
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def lessons() -> list[str]:
    """The lessons' names, in the order of the path."""
    return sorted(p.stem for p in (HERE / "source").glob("lesson*.py"))


def notebook(name: str, language: str) -> nbformat.NotebookNode:
    """The lesson's notebook in `language`, without outputs."""
    cells = []
    for kind, text in runpy.run_path(str(HERE / "source" / f"{name}.py"))["CELLS"]:
        if kind == "md":
            cells.append(nbformat.v4.new_markdown_cell(text[language].strip()))
        elif kind == "parameters":
            cells.append(nbformat.v4.new_code_cell(text.strip(), metadata={"tags": ["parameters"]}))
        else:
            cells.append(nbformat.v4.new_code_cell(text.strip()))
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})


def execute(book: nbformat.NotebookNode, quick: bool, folder: Path, language: str = "en", timeout: int = 1800
            ) -> nbformat.NotebookNode:
    """Run the notebook top to bottom in `folder` (its runs/ go there), visionpath speaking `language` (as it does
    for a learner whose $LANG is Japanese); quick: with QUICK = True."""
    for cell in book.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace("QUICK = False", f"QUICK = {quick}")
    before = os.environ.get("VISIONPATH_LANG")
    os.environ["VISIONPATH_LANG"] = language  # the kernel inherits this process's environment
    try:
        NotebookClient(book, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        if before is None:
            os.environ.pop("VISIONPATH_LANG", None)
        else:
            os.environ["VISIONPATH_LANG"] = before
    for cell in book.cells:  # committed as a learner would see it: the parameter cell says False
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace("QUICK = True", "QUICK = False")
    return book


def update_text(names: list[str]) -> None:
    """The markdown cells of the committed notebooks, rewritten from their sources; the code cells and their outputs
    stay as they ran (a code cell that differs from its source is refused: run the lesson again instead)."""
    for name in names:
        for language in LANGUAGES:
            path = HERE / language / f"{name}.ipynb"
            committed, source = nbformat.read(str(path), as_version=4), notebook(name, language)
            kinds = [(c.cell_type, c.source if c.cell_type == "code" else "") for c in committed.cells]
            if kinds != [(c.cell_type, c.source if c.cell_type == "code" else "") for c in source.cells]:
                sys.exit(f"{path}: its code is not its source's; run python docs/lessons/build.py {name}")
            for cell, new in zip(committed.cells, source.cells):
                if cell.cell_type == "markdown":
                    cell.source = new.source
            nbformat.write(committed, str(path))
            print(f"updated the text of {path}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help=f"which (default: all: {', '.join(lessons())})")
    parser.add_argument("--quick", action="store_true", help="a subset and an epoch: does it run?")
    parser.add_argument("--text", action="store_true", help="only bring the committed notebooks' prose up to date "
                        "with their sources, without running them (for a change of wording, not of code)")
    args = parser.parse_args()
    if args.text:
        return update_text(args.lessons or lessons())
    for name in args.lessons or lessons():
        for language in LANGUAGES:
            with tempfile.TemporaryDirectory() as folder:
                book = execute(notebook(name, language), args.quick, Path(folder), language)
            path = HERE / language / f"{name}.ipynb"
            if not args.quick:
                nbformat.write(book, str(path))
            print(f"{'ran' if args.quick else 'wrote'} {path}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
