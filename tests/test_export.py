"""Export: the run's model as an ONNX or TorchScript file that answers as the run does, with what a consumer needs
in its metadata; prediction from the ONNX file through onnxruntime."""
from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import visionpath
from visionpath.errors import VisionpathError
from visionpath.export import Packaged, load_exported
from visionpath.run_files import load_model

export_module = importlib.import_module("visionpath.export")  # visionpath.export is also the function

QUICK = {"epochs": 1, "batch_size": 8, "augment": "none"}
FAMILIES = {  # each built-in family, and a timm backbone with its offline ImageNet weights
    "mlp": {"model": "mlp"},
    "cnn": {"model": "cnn"},
    "resnet9": {"model": "resnet9", "width": 8},
    "timm backbone": None,  # the Lite0 run conftest's `trained` makes once, and its `exported` model.onnx
}


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_predict_from_the_onnx_file_answers_as_the_run_does(tiny_folder, tmp_path, photos, family, request):
    if FAMILIES[family] is None:  # exported there by visionpath.export, as below
        run = request.getfixturevalue("trained")["lite0"]
        exported = request.getfixturevalue("exported")
    else:
        run = visionpath.train(tiny_folder, project=tmp_path / "runs", **{**QUICK, **FAMILIES[family]}).path
        exported = visionpath.export(run)
        assert exported == run / "model.onnx"
    assert load_exported(exported)[1]["model"] == load_model(run)[1]["model"]
    from_run = visionpath.predict(run, [photos, tiny_folder / "test"], top_k=3)
    from_onnx = visionpath.predict(exported, [photos, tiny_folder / "test"], top_k=3)
    assert len(from_run) == len(from_onnx) == 4 + 12
    for a, b in zip(from_run, from_onnx):
        assert (a.path, a.label) == (b.path, b.label)
        assert [name for name, _ in a.top] == [name for name, _ in b.top]
        assert max(abs(p - q) for (_, p), (_, q) in zip(a.top, b.top)) <= 1e-4


@pytest.mark.slow  # over 3 s here: the full suite runs it
def test_the_onnx_file_says_what_it_takes_and_gives_and_takes_any_batch(tiny_folder, tmp_path):
    run = visionpath.train(tiny_folder, project=tmp_path / "runs", model="cnn", **QUICK)
    path = visionpath.export(run.path, output=tmp_path / "classifier.onnx")
    props = {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}
    assert props["classes"] == ["ant", "bee", "cat"] and props["input_shape"] == [3, 12, 12]
    assert (props["layout"], props["dtype"], props["channel_order"], props["output"]) == (
        "NCHW", "uint8", "RGB", "probabilities")
    assert props["visionpath_version"] == visionpath.__version__ and props["model"] == "cnn"
    classify, meta = load_exported(path)
    net, checkpoint = load_model(run.path)
    packaged = Packaged(net, checkpoint["mean"], checkpoint["std"]).eval()
    for n in (1, 5, 33):
        pictures = torch.randint(0, 256, (n, 3, 12, 12), dtype=torch.uint8)
        answer = classify(pictures.numpy())
        assert answer.shape == (n, 3) and np.allclose(answer.sum(1), 1, atol=1e-5)
        assert np.abs(answer - packaged(pictures).detach().numpy()).max() <= 1e-5


@pytest.mark.slow
def test_torchscript_answers_as_the_run_does_and_carries_the_metadata(tiny_folder, tmp_path):
    run = visionpath.train(tiny_folder, project=tmp_path / "runs", model="resnet9", width=8, **QUICK)
    path = visionpath.export(run.path, format="torchscript")
    assert path == run.path / "model.pt"
    extra = {"visionpath.json": ""}
    model = torch.jit.load(io.BytesIO(path.read_bytes()), _extra_files=extra)
    assert json.loads(json.loads(extra["visionpath.json"])["classes"]) == ["ant", "bee", "cat"]
    net, checkpoint = load_model(run.path)
    pictures = torch.randint(0, 256, (4, 3, 12, 12), dtype=torch.uint8)
    expected = Packaged(net, checkpoint["mean"], checkpoint["std"]).eval()(pictures)
    assert torch.allclose(model(pictures), expected, atol=1e-5)
    pictures = sorted(tiny_folder.rglob("*.png"))
    for ours, theirs in zip(visionpath.predict(path, pictures), visionpath.predict(run.path, pictures)):
        assert ours.label == theirs.label and abs(ours.probability - theirs.probability) <= 1e-4


def test_a_torchscript_file_visionpath_did_not_write_is_one_sentence(tmp_path, photos):
    """predict model.pt died deep in safetensors ("header too large"): a TorchScript file without visionpath's
    metadata, and a .pt that is not TorchScript at all, each say what predict reads."""
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(tmp_path / "foreign.pt"))
    with pytest.raises(VisionpathError, match="foreign.pt was not exported by visionpath"):
        visionpath.predict(tmp_path / "foreign.pt", photos)
    torch.save({"weight": torch.zeros(2)}, tmp_path / "weights.pt")
    with pytest.raises(VisionpathError, match=r"weights.pt cannot be read as a TorchScript file \(.*\); predict and "
                                              r"serve read a run folder, its .safetensors checkpoints, and the "
                                              r"model.onnx or model.pt"):
        visionpath.predict(tmp_path / "weights.pt", photos)


def test_without_the_export_extra_one_sentence(tiny_folder, tmp_path, monkeypatch):
    run = visionpath.train(tiny_folder, project=tmp_path / "runs", model="mlp", **QUICK)
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if it were not installed
    with pytest.raises(VisionpathError, match=r"needs onnxscript, which is not installed: "
                                              r"pip install 'visionpath\[export\]'"):
        visionpath.export(run.path)
    assert not (run.path / "model.onnx").exists()


def test_an_onnx_file_visionpath_did_not_write_is_one_sentence(tmp_path, photos):
    foreign = tmp_path / "foreign.onnx"
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(foreign))
    with pytest.raises(VisionpathError, match="foreign.onnx was not exported by visionpath"):
        visionpath.predict(foreign, photos)
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(VisionpathError, match="cannot be read as an ONNX file"):
        visionpath.predict(tmp_path / "broken.onnx", photos)


@pytest.mark.slow
def test_the_readme_snippet_runs_the_onnx_file_with_neither_visionpath_nor_pytorch(tiny_folder, tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("```python", readme.index("onnxruntime, numpy and Pillow are enough")) + len("```python\n")
    snippet = readme[start: readme.index("```\n", start)]
    run = visionpath.train(tiny_folder, project=tmp_path / "runs", model="cnn", **QUICK)
    model = visionpath.export(run.path)
    picture = tiny_folder / "test" / "bee" / "0.png"
    snippet = snippet.replace("runs/my_photos-1/model.onnx", str(model)).replace('"photo.jpg"', repr(str(picture)))
    guard = "import sys\nsys.modules['torch'] = sys.modules['visionpath'] = None  # importing either would fail\n"
    done = subprocess.run([sys.executable, "-c", guard + snippet], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [expected] = visionpath.predict(run.path, picture)
    assert done.stdout.strip() == f"{expected.label} {expected.probability:.1%}"


@pytest.mark.slow  # over 2.5 s here: the full suite runs it
def test_an_export_that_answers_otherwise_is_not_written(tiny_folder, tmp_path, monkeypatch):
    run = visionpath.train(tiny_folder, project=tmp_path / "runs", model="mlp", **QUICK)
    real_runner = export_module.onnx_runner
    monkeypatch.setattr(export_module, "onnx_runner", lambda data: lambda pictures: real_runner(data)(pictures) + 1e-3)
    with pytest.raises(VisionpathError, match="answers up to 0.001 away from the run's own model"):
        visionpath.export(run.path)
    assert not (run.path / "model.onnx").exists()
