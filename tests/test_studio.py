"""visionpath studio's API, against the running server: a project is its folders (a restart shows the same), every
bad input is one sentence with the right status and writes nothing outside the project, and training runs in a
child process that Cancel stops with its epochs kept and Train again resumes. The page in a real browser:
tests/test_studio_page.py."""
from __future__ import annotations

import http.client
import importlib
import io
import json
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

import visionpath
from conftest import make_folder, post_files
from visionpath import i18n
from visionpath.errors import VisionpathError

studio_module = importlib.import_module("visionpath.studio")
pytest.importorskip("starlette", reason="needs the studio extra: pip install 'visionpath[studio]'")


def call(url: str, method: str, path: str, body: object = None, raw: bytes | None = None) -> tuple[int, object]:
    """(status, JSON answer, or the bytes when it is not JSON)."""
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    payload = raw if raw is not None else None if body is None else json.dumps(body).encode()
    connection.request(method, path, payload, {"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, data


def png(colour: tuple[int, int, int], size: int = 24, mark: int = 0) -> bytes:
    picture = Image.new("RGB", (size, size), colour)
    picture.putpixel((mark % size, mark // size % size), (255 - colour[0], 0, 0))  # each one different bytes
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def running(tmp_path):
    with studio_module.studio(tmp_path / "project", port=0, open_browser=False, background=True) as server:
        yield server


def state(url: str) -> dict:
    return call(url, "GET", "/api/state")[1]


def test_a_project_is_its_folders_every_fifth_picture_is_held_out_and_a_restart_shows_the_same(tmp_path):
    project = tmp_path / "project"
    with studio_module.studio(project, port=0, open_browser=False, background=True) as server:
        assert call(server.url, "POST", "/api/classes", {"name": "ねこ"}) == (201, {"name": "ねこ"})  # any script
        assert call(server.url, "POST", "/api/classes", {"name": "dog"})[0] == 201
        status, answer = post_files(server.url, [(f"{i}.png", png((200, 40, 40), mark=i)) for i in range(10)],
                                    path="/api/classes/%E3%81%AD%E3%81%93/pictures")
        assert status == 200 and len(answer["added"]) == 10 and answer["refused"] == []
        assert [a["split"] for a in answer["added"]].count("test") == 2  # pictures 5 and 10
        again = post_files(server.url, [("copy.png", png((200, 40, 40), mark=3))],
                           path="/api/classes/%E3%81%AD%E3%81%93/pictures")
        assert again[0] == 200 and again[1]["added"][0]["name"] == answer["added"][3]["name"]  # kept once
        status, other = post_files(server.url, [("3.png", png((200, 40, 40), mark=3))],
                                   path="/api/classes/dog/pictures")
        assert status == 400 and other["refused"][0]["error"] == (
            "3.png is already in class 'ねこ'; the same picture in two classes teaches both. Move it there instead, "
            "or leave it.")
        first = answer["added"][0]["name"]
        status, thumb = call(server.url, "GET", f"/api/classes/%E3%81%AD%E3%81%93/pictures/{first}")
        assert status == 200 and Image.open(io.BytesIO(thumb)).size == (24, 24)
        moved = call(server.url, "POST", f"/api/classes/%E3%81%AD%E3%81%93/pictures/{first}/move", {"to": "dog"})
        assert moved == (200, {"moved": first, "to": "dog"})
        second = answer["added"][1]["name"]
        assert call(server.url, "DELETE", f"/api/classes/%E3%81%AD%E3%81%93/pictures/{second}") == (
            200, {"removed": second})
        before = state(server.url)
    on_disk = sorted(str(p.relative_to(project / "data")) for p in (project / "data").rglob("*.png"))
    assert on_disk.count(f"train/dog/{first}") == 1 and len(on_disk) == 9
    assert [sum(p.startswith(f"{split}/ねこ/") for p in on_disk) for split in ("train", "test")] == [6, 2]
    assert visionpath.load_dataset(project / "data").classes == ["dog", "ねこ"]  # an ordinary class-folder dataset
    with studio_module.studio(project, port=0, open_browser=False, background=True) as server:
        after = state(server.url)
    assert after["classes"] == before["classes"] and after["project"] == str(project.resolve())
    assert [c["train"] + c["test"] for c in after["classes"]] == [1, 8]
    assert after["advice"] == [f"add at least {n} more picture(s) to '{name}': 10 a class let a run learn it and "
                               "keep some to test it on." for n, name in ((9, "dog"), (2, "ねこ"))]


def test_the_data_check_runs_as_pictures_arrive_and_its_findings_are_counted_by_kind(running):
    for name in ("red", "green"):
        call(running.url, "POST", "/api/classes", {"name": name})
    colours = {"red": (220, 30, 30), "green": (30, 220, 30)}
    for name, colour in colours.items():
        post_files(running.url, [(f"{i}.png", png(colour, mark=i)) for i in range(12)],
                   path=f"/api/classes/{name}/pictures")
    deadline = time.monotonic() + 60
    while (now := state(running.url))["checking"] and time.monotonic() < deadline:
        time.sleep(0.2)
    check = now["check"]
    assert check["counts"] == {"train": {"green": 10, "red": 10}, "test": {"green": 2, "red": 2}}
    kinds = {f["kind"]: f for f in check["findings"]}
    # twelve pictures of one colour each, a pixel apart: near duplicates, said once for all their pairs
    assert list(kinds).count("near-within") == 1 and kinds["near-within"]["count"] > 1
    assert kinds["near-within"]["what"].startswith(f"near duplicates within a class ({kinds['near-within']['count']}")
    assert check["status"] == 1 and now["advice"] == []


BAD_NAMES = {
    "../up": "a class name cannot hold '/'; choose one without them.",
    "a\\b": "a class name cannot hold '\\\\'; choose one without them.",
    "": "give the class a name.",
    "   ": "give the class a name.",
    ".hidden": "'.hidden' cannot be a class name (a dot at either end, or a name systems keep for themselves); "
               "choose another.",
    "..": "'..' cannot be a class name (a dot at either end, or a name systems keep for themselves); choose another.",
    "CON": "'CON' cannot be a class name (a dot at either end, or a name systems keep for themselves); choose "
           "another.",
    "nul.txt": "'nul.txt' cannot be a class name (a dot at either end, or a name systems keep for themselves); "
               "choose another.",
    "__MACOSX": "'__MACOSX' cannot be a class name (a dot at either end, or a name systems keep for themselves); "
                "choose another.",
    "tab\there": "a class name cannot hold '\\t'; choose one without them.",
    "x" * 65: f"'{'x' * 20}…' is longer than 64 characters; choose a shorter class name.",
    7: "send the class name as text.",
}


def test_every_bad_input_is_one_sentence_and_nothing_is_written_outside_the_project(running, tmp_path):
    url = running.url
    for name, sentence in BAD_NAMES.items():
        assert call(url, "POST", "/api/classes", {"name": name}) == (400, {"error": sentence}), name
    # a lone surrogate: JSON can carry it, a file system cannot store it
    assert call(url, "POST", "/api/classes", raw=b'{"name": "bad\\udc80"}') == (400, {
        "error": "a class name must be text a file system can store (valid UTF-8); type it again."})
    assert call(url, "POST", "/api/classes", raw=b"{not json") == (400, {"error": "send the request's fields as JSON."})
    assert call(url, "POST", "/api/classes", {"name": "cat"})[0] == 201
    assert call(url, "POST", "/api/classes", {"name": "cat"}) == (409, {"error": "there is a class 'cat' already."})
    assert call(url, "POST", "/api/classes", {"name": "dog"})[0] == 201
    assert post_files(url, [("a.png", png((9, 9, 9)))], path="/api/classes/horse/pictures") == (
        404, {"error": "there is no class 'horse'; make it first."})
    for where in ("/api/classes/cat/pictures/..%2F..%2F..%2Fetc%2Fpasswd", "/api/classes/..%2Fdata/pictures/x.png",
                  "/api/classes/cat/pictures/%2Fetc%2Fpasswd", "/api/classes/cat/pictures/..",
                  "/api/classes/cat/pictures/%2E%2E"):
        assert call(url, "GET", where)[0] == 404, where
    assert call(url, "GET", "/api/classes/cat/pictures/nothing.png") == (404, {
        "error": "class 'cat' has no picture 'nothing.png'."})
    status, answer = post_files(url, [("notes.png", b"not a picture at all"), ("good.png", png((1, 2, 3)))],
                                path="/api/classes/cat/pictures")
    assert status == 200 and [a["file"] for a in answer["added"]] == ["good.png"]
    assert answer["refused"] == [{"file": "notes.png", "error": "notes.png is not a picture that can be read; send "
                                  "JPEG, PNG, BMP, WebP, GIF, TIFF or AVIF files."}]
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    huge = bytearray(out.getvalue())
    start = huge.index(b"\xff\xc0")  # the frame header: length, precision, height, width
    huge[start + 5:start + 9] = (65535).to_bytes(2, "big") * 2
    status, answer = post_files(url, [("bomb.jpg", bytes(huge))], path="/api/classes/cat/pictures")
    assert (status, answer["refused"]) == (400, [{"file": "bomb.jpg", "error": "bomb.jpg claims more pixels than "
                                                  "this server decodes (64,000,000, --max-pixels); send a smaller "
                                                  "picture."}])
    assert post_files(url, [("big.png", b"0" * 100)], path="/api/classes/cat/pictures",
                      headers={"Content-Length": str(10 ** 9)})[0] == 413
    assert call(url, "POST", "/api/classes/cat/pictures/x.png/move", {"to": "../dog"})[0] == 404
    assert call(url, "POST", "/api/train", {"budget": 5}) == (409, {
        "error": "add at least 9 more picture(s) to 'cat': 10 a class let a run learn it and keep some to test it "
                 "on."})
    assert call(url, "POST", "/api/train", {"budget": "soon"}) == (400, {"error": "the budget is a number of minutes."})
    assert call(url, "POST", "/api/cancel") == (409, {"error": "no training is running."})
    assert call(url, "GET", "/api/runs/..%2F..%2Fdata/report.html")[0] == 404
    assert call(url, "POST", "/api/language", {"lang": "fr"}) == (400, {"error": "the studio speaks en, ja, not fr."})
    try:  # a refused picture is said in the learner's language, serve's sentences too
        assert call(url, "POST", "/api/language", {"lang": "ja"})[0] == 200
        assert post_files(url, [("notes.png", b"not a picture")], path="/api/classes/cat/pictures")[1]["refused"] == [
            {"file": "notes.png", "error": "notes.png は読み取れる画像ではありません。JPEG、PNG、BMP、WebP、GIF、TIFF、"
                                           "AVIF のファイルを送ってください。"}]
        assert post_files(url, [("big.png", b"0" * 100)], path="/api/classes/cat/pictures",
                          headers={"Content-Length": str(10 ** 9)})[1]["error"].startswith("アップロードは 1000.0 MB で")
    finally:
        i18n.set_language(None)  # the studio runs in this process: its language is the tests' too
    assert state(url)["classes"][0]["name"] == "cat"  # the server keeps answering
    assert [call(url, "GET", f"/page/{name}")[0] for name in ("studio.js", "studio.css", "theme.css")] == [200] * 3
    outside = sorted(p.name for p in tmp_path.iterdir())
    assert outside == ["project"]
    written = {p.relative_to(tmp_path / "project").parts[:3] for p in (tmp_path / "project").rglob("*") if p.is_file()}
    assert written == {("data", "train", "cat")}


@pytest.mark.slow  # a training in a child process: about half a minute
def test_training_runs_in_a_child_process_cancel_keeps_its_epochs_and_train_again_resumes(running, tmp_path):
    url = running.url
    source = make_folder(tmp_path / "source", classes=("ant", "bee"), per_class={"": 30}, size=32)
    for name in ("ant", "bee"):
        call(url, "POST", "/api/classes", {"name": name})
        post_files(url, [(p.name, p.read_bytes()) for p in sorted((source / name).iterdir())],
                   path=f"/api/classes/{name}/pictures")
    status, answer = call(url, "POST", "/api/train", {"budget": 0.5})
    project = Path(running.project)
    assert status == 202 and answer["command"] == (
        f"visionpath train {project / 'data'} --project {project / 'runs'} --name run --budget 0.5 --lang en")
    assert call(url, "POST", "/api/train", {"budget": 0.5}) == (409, {
        "error": "a training is running already; wait for it, or cancel it."})
    deadline = time.monotonic() + 300
    while not (training := state(url)["training"])["epochs"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert training["state"] == "running" and training["run"] == "run-1"
    assert any(line.startswith("budget 0.5 minutes") for line in training["log"])  # the plan's lines
    call(url, "POST", "/api/cancel")
    while (training := state(url)["training"])["state"] in ("running", "cancelling") and time.monotonic() < deadline:
        time.sleep(0.2)
    kept = len(training["epochs"])
    assert training["state"] == "cancelled" and training["exit"] == 130 and kept >= 1
    assert training["resumable"] == "run-1" and not (project / "runs" / "run-1" / "summary.txt").exists()
    status, answer = call(url, "POST", "/api/train", {"budget": 0.5})
    assert status == 202 and answer["command"] == f"visionpath train --resume {project / 'runs' / 'run-1'} --lang en"
    while (now := state(url))["training"]["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert now["training"]["state"] == "finished" and now["training"]["resumable"] is False
    (run,) = now["runs"]
    assert run["name"] == "run-1" and run["finished"] and run["epochs"] > kept
    history = visionpath.Run(project / "runs" / "run-1").history
    assert [r["epoch"] for r in history] == list(range(1, len(history) + 1))  # resumed, not restarted
    assert run["test_pictures"] == 12 and 0 <= run["test_accuracy"] <= 1
    status, page = call(url, "GET", "/api/runs/run-1/report.html")
    assert status == 200 and b"run-1" in page
    picture = sorted((source / "bee").iterdir())[0]
    status, answer = post_files(url, [(picture.name, picture.read_bytes())], path="/api/runs/run-1/predict")
    (expected,) = visionpath.predict(project / "runs" / "run-1", [picture], top_k=2)
    assert status == 200 and answer["predictions"][0]["label"] == expected.label
    assert abs(answer["predictions"][0]["probability"] - expected.probability) <= 1e-4
    status, model = call(url, "GET", "/api/runs/run-1/model.onnx")
    assert status == 200 and (project / "runs" / "run-1" / "model.onnx").read_bytes() == model
    status, archive = call(url, "GET", "/api/runs/run-1/run.zip")
    import zipfile
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert status == 200 and "run-1/results.csv" in names and "run-1/best.safetensors" in names


@pytest.mark.slow
def test_stopping_the_studio_stops_its_training_and_the_run_can_be_resumed(tmp_path):
    source = make_folder(tmp_path / "source", classes=("ant", "bee"), per_class={"": 30}, size=32)
    project = tmp_path / "project"
    with studio_module.studio(project, port=0, open_browser=False, background=True) as server:
        for name in ("ant", "bee"):
            call(server.url, "POST", "/api/classes", {"name": name})
            post_files(server.url, [(p.name, p.read_bytes()) for p in sorted((source / name).iterdir())],
                       path=f"/api/classes/{name}/pictures")
        call(server.url, "POST", "/api/train", {"budget": 0.5})
        deadline = time.monotonic() + 300
        while not state(server.url)["training"]["epochs"] and time.monotonic() < deadline:
            time.sleep(0.1)
    run = project / "runs" / "run-1"
    assert (run / "last.safetensors").is_file() and not (run / "summary.txt").exists()
    assert "interrupted; the run is saved through epoch" in (project / "training.log").read_text()
    with studio_module.studio(project, port=0, open_browser=False, background=True) as server:
        assert state(server.url)["training"]["resumable"] == "run-1"


def test_the_studio_listens_on_this_machine_and_warns_when_open_to_the_network(tmp_path, capsys):
    with studio_module.studio(tmp_path / "p", host="0.0.0.0", port=0, open_browser=False, background=True):
        pass
    out = capsys.readouterr().out
    assert "warning: --host 0.0.0.0 opens the studio to other machines" in out and "there is no login" in out
    with pytest.raises(VisionpathError, match="--project .* is a file; give a folder to hold the run folders"):
        (tmp_path / "file").write_text("x")
        studio_module.studio(tmp_path / "file", port=0, open_browser=False, background=True)


def test_without_the_studio_extra_one_sentence_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    with pytest.raises(VisionpathError) as error:
        studio_module.studio(tmp_path / "p", port=0, open_browser=False, background=True)
    assert str(error.value) == ("visionpath studio needs uvicorn, which is not installed: pip install "
                                "'visionpath[studio]'")
    assert not (tmp_path / "p").exists()  # refused before anything is made
