"""Build the lessons: each source in docs/lessons/source/ becomes one Jupyter notebook per language
(docs/lessons/en/, docs/lessons/ja/), run top to bottom so that it carries the outputs and pictures of a full run.

    python docs/lessons/build.py [LESSON ...] [--quick]     # needs the lessons extra: pip install -e '.[lessons]'

A source is a list of cells: markdown with its text in each language, and code, the same in both languages (so
both show the same commands and the same figures). The first code cell, tagged "parameters", holds
`QUICK = False`; --quick (and the test suite) runs it as `QUICK = True`: a subset and an epoch, a few seconds.
Set VISIONPATH_DATA_DIR to local copies of the data (e.g. ../shared/data) to run without downloading.
"""
from __future__ import annotations

import argparse
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


def execute(book: nbformat.NotebookNode, quick: bool, folder: Path, timeout: int = 1800) -> nbformat.NotebookNode:
    """Run the notebook top to bottom in `folder` (its runs/ go there); quick: with QUICK = True."""
    for cell in book.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace("QUICK = False", f"QUICK = {quick}")
    NotebookClient(book, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    for cell in book.cells:  # committed as a learner would see it: the parameter cell says False
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace("QUICK = True", "QUICK = False")
    return book


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help=f"which (default: all: {', '.join(lessons())})")
    parser.add_argument("--quick", action="store_true", help="a subset and an epoch: does it run?")
    args = parser.parse_args()
    for name in args.lessons or lessons():
        for language in LANGUAGES:
            with tempfile.TemporaryDirectory() as folder:
                book = execute(notebook(name, language), args.quick, Path(folder))
            path = HERE / language / f"{name}.ipynb"
            if not args.quick:
                nbformat.write(book, str(path))
            print(f"{'ran' if args.quick else 'wrote'} {path}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
