"""Options, declared once: the validator's sentences, checks of a whole call, and declarations read back."""
from pathlib import Path
from typing import Annotated

import pytest

from visionpath.errors import VisionpathError
from visionpath.options import Option, check, checked, declared


@pytest.mark.parametrize("kind, valid, value, sentence", [
    (int, "≥ 1", 0, "--n must be a whole number of at least 1 (got 0)."),
    (int, "≥ 1", 2.5, "--n must be a whole number of at least 1 (got 2.5)."),
    (int, "≥ 1", True, "--n must be a whole number of at least 1 (got True)."),
    (int, "[1, 64]", 65, "--n must be a whole number between 1 and 64 (got 65)."),
    (float, "[0, 1]", 2.0, "--n must be between 0 and 1 (got 2.0)."),
    (float, "[0, 1)", 1.0, "--n must be in [0, 1) (got 1.0)."),
    (float, "> 0", 0, "--n must be positive (got 0)."),
    (float, "≥ 0", -1.0, "--n must be zero or positive (got -1.0)."),
    (float, None, float("nan"), "--n must be a finite number (got nan)."),
    (float, None, "fast", "--n must be a number (got 'fast')."),
])
def test_a_value_out_of_its_declaration_is_one_sentence_naming_the_flag(kind, valid, value, sentence):
    with pytest.raises(VisionpathError) as caught:
        check("n", value, kind, Option("", valid=valid))
    assert str(caught.value) == sentence


def test_choices_paths_and_none():
    with pytest.raises(VisionpathError, match=r"^unknown --format 'tflite'; choose from onnx, torchscript\.$"):
        check("format", "tflite", str, Option("", choices=("onnx", "torchscript")))
    check("output", None, str, Option("", path="output"), allows_none=True)
    with pytest.raises(VisionpathError, match="--output /nowhere/x.png: the folder /nowhere does not exist"):
        check("output", "/nowhere/x.png", str, Option("", path="output"))
    with pytest.raises(VisionpathError, match="--data-dir /nowhere is not a folder"):
        check("data_dir", Path("/nowhere"), str, Option("", path="folder"))
    check("timeout", 30.0, (str, float), Option(""))  # text or a number: either
    check("timeout", "1h", (str, float), Option(""))


class Thing:
    @checked
    def draw(self, count: Annotated[int, Option("pictures", valid="[1, 64]")] = 16,
             names: Annotated[list[str] | str, Option("names", choices=("a", "b"), positional=True)] = "a",
             output: Annotated[str | Path, Option("the PNG", path="output")] = "/nowhere/x.png",
             quiet: bool = False) -> int:
        return count


def test_a_checked_call_checks_given_values_defaults_and_each_item_before_it_runs(tmp_path):
    thing = Thing()
    assert thing.draw(8, ["a", "b"], output=tmp_path / "x.png") == 8
    with pytest.raises(VisionpathError, match="--count must be a whole number between 1 and 64 .got 0."):
        thing.draw(0, output=tmp_path / "x.png")
    with pytest.raises(VisionpathError, match="unknown --names 'c'"):
        thing.draw(names=["a", "c"], output=tmp_path / "x.png")
    with pytest.raises(VisionpathError, match="the folder /nowhere does not exist"):  # the default, too
        thing.draw()
    options = {d.name: d for d in declared(Thing.draw)}
    assert list(options) == ["count", "names", "output"]  # quiet is not declared: not an option
    assert (options["count"].kind, options["count"].default) == ((int,), 16)
    assert options["names"].many and options["names"].option.positional
    assert options["output"].kind == (str,) and not options["output"].allows_none
