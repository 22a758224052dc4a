"""The lessons never rot: every notebook runs top to bottom in quick mode, the committed notebooks are built from
their sources and carry a full run's outputs, and the two languages say their own words around the same code."""
from __future__ import annotations

import os
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


# Both languages run the same code (checked below), so each lesson runs once: in Japanese for these (Lesson 4, the
# capstone, among them), in English for the others; VISIONPATH_TEST_EVERY_LANGUAGE=1 runs every lesson in both.
IN_JAPANESE = {"lesson1_mnist_dense", "lesson3_transfer_learning", "lesson4_your_own_photos"}
RUNS = [(name, language) for name in NAMES for language in build["LANGUAGES"]
        if os.environ.get("VISIONPATH_TEST_EVERY_LANGUAGE") or (language == "ja") == (name in IN_JAPANESE)]


@pytest.fixture(scope="module")
def lessons_home(tmp_path_factory) -> Path:
    """One picture cache for the lessons: CIFAR-10 is decoded once, for Lessons 2 and 3 both."""
    return tmp_path_factory.mktemp("lessons-home")


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs ../shared/data")
@pytest.mark.parametrize("name, language", RUNS)
def test_the_lesson_runs_top_to_bottom(name, language, tmp_path, monkeypatch, lessons_home):
    monkeypatch.setenv("VISIONPATH_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("VISIONPATH_HOME", str(lessons_home))
    book = build["execute"](build["notebook"](name, language), quick=True, folder=tmp_path, language=language)
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    said = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    if language == "ja" and "visionpath.train(" in "".join(c.source for c in book.cells):
        assert JAPANESE.search(said), "visionpath spoke English in a Japanese lesson"  # its messages follow $LANG


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
        said = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in code for o in c.outputs)
        if "visionpath.train(" in "".join(c.source for c in code):  # a Japanese notebook ran in Japanese
            assert bool(JAPANESE.search(said)) == (language == "ja"), f"{language}/{name}.ipynb"


@pytest.mark.parametrize("name", NAMES)
def test_both_languages_show_the_same_code_and_each_speaks_its_own(name):
    english, japanese = (build["notebook"](name, language) for language in ("en", "ja"))
    assert [c.source for c in english.cells if c.cell_type == "code"] == \
        [c.source for c in japanese.cells if c.cell_type == "code"]
    prose = [(e.source, j.source) for e, j in zip(english.cells, japanese.cells) if e.cell_type == "markdown"]
    assert prose and all(JAPANESE.search(j) and not JAPANESE.search(e) for e, j in prose)
