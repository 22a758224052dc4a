"""The lessons never rot: every notebook runs top to bottom in quick mode, the committed notebooks are built from
their sources and carry a full run's outputs, and the two languages say their own words around the same code."""
from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from conftest import SHARED_DATA

nbformat = pytest.importorskip("nbformat", reason="the lessons need the lessons extra: pip install -e '.[lessons]'")
pytest.importorskip("nbclient")
LESSONS = Path(__file__).resolve().parents[1] / "docs" / "lessons"
build = runpy.run_path(str(LESSONS / "build.py"))
NAMES = build["lessons"]()
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana and kanji


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs ../shared/data")
@pytest.mark.parametrize("language", build["LANGUAGES"])
@pytest.mark.parametrize("name", NAMES)
def test_the_lesson_runs_top_to_bottom(name, language, tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONPATH_DATA_DIR", str(SHARED_DATA))
    book = build["execute"](build["notebook"](name, language), quick=True, folder=tmp_path)
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_notebooks_are_their_sources_with_a_full_run_s_outputs(name):
    for language in build["LANGUAGES"]:
        committed = nbformat.read(str(LESSONS / language / f"{name}.ipynb"), as_version=4)
        built = build["notebook"](name, language)
        assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], \
            f"{language}/{name}.ipynb is not its source: run python docs/lessons/build.py {name}"
        code = [c for c in committed.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
        assert all(c.outputs for c in code) and not any(o.output_type == "error" for c in code for o in c.outputs)
        assert "QUICK = False" in committed.cells[1].source  # the full run's outputs, as a learner gets them


@pytest.mark.parametrize("name", NAMES)
def test_both_languages_show_the_same_code_and_each_speaks_its_own(name):
    english, japanese = (build["notebook"](name, language) for language in ("en", "ja"))
    assert [c.source for c in english.cells if c.cell_type == "code"] == \
        [c.source for c in japanese.cells if c.cell_type == "code"]
    prose = [(e.source, j.source) for e, j in zip(english.cells, japanese.cells) if e.cell_type == "markdown"]
    assert prose and all(JAPANESE.search(j) and not JAPANESE.search(e) for e, j in prose)
