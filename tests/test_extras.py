"""The optional extras: one sentence when a package is missing, naming an extra that pyproject.toml declares."""
import ast
import sys
from pathlib import Path

import pytest

from visionpath.errors import VisionpathError
from visionpath.extras import installed, missing, require

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")

ROOT = Path(__file__).resolve().parents[1]


def test_a_missing_package_is_one_sentence_with_the_command_that_installs_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if it were not installed
    with pytest.raises(VisionpathError) as caught:
        require("optuna", "tune", "visionpath tune", package="Optuna")
    assert str(caught.value) == "visionpath tune needs Optuna, which is not installed: pip install 'visionpath[tune]'"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not installed("optuna") and installed("json") and not installed("no_such_package.sub")
    assert require("json", "tune", "x").dumps([1]) == "[1]"


def extras_named_in_the_code() -> set[str]:
    """The extra of every require(...) and missing(...) call in the package (the second argument and the third)."""
    named = set()
    for path in (ROOT / "src" / "visionpath").rglob("*.py"):
        if path.name == "extras.py":  # where they are defined: require passes its extra on to missing
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("require", "missing"):
                position = 1 if node.func.id == "require" else 2
                assert isinstance(node.args[position], ast.Constant), f"{path}:{node.lineno}: the extra as a literal"
                named.add(node.args[position].value)
    return named


def test_every_extra_the_code_names_is_declared_in_pyproject():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = extras_named_in_the_code()
    assert named >= {"tune", "export", "serve", "tensorboard", "lite", "heif"}
    assert named <= set(declared), named - set(declared)
    assert missing("reading it", "pillow-heif", "heif").endswith("pip install 'visionpath[heif]'")
