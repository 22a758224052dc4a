"""visionpath serve, tested with an HTTP client against the running server: the API answers as `predict` does
(from the run and from its ONNX file), concurrent clients are classified together, everything a client can get
wrong is one sentence with the right status and costs the server nothing, and the command starts and stops."""
from __future__ import annotations

import http.client
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

import visionpath
from conftest import post_files
from visionpath.errors import VisionpathError

serve_module = importlib.import_module("visionpath.serve")  # visionpath.serve is also the function


def sent(paths: list[Path]) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in paths]


@pytest.mark.slow  # the ONNX export: the full suite runs it
def test_the_api_answers_as_predict_does_from_the_run_and_from_its_onnx_file(trained, exported, photos):
    photos = sorted(photos.iterdir())
    from_run = visionpath.predict(trained["lite0"], photos, top_k=3)
    from_onnx = visionpath.predict(exported, photos, top_k=3)
    for served in (trained["lite0"], exported):
        with visionpath.serve(served, port=0, top_k=3, background=True) as server:
            status, answer = post_files(server.url, sent(photos))
        assert status == 200 and len(answer["predictions"]) == len(photos)
        for a, b, web in zip(from_run, from_onnx, answer["predictions"]):
            assert Path(a.path).name == web["file"] and a.label == b.label == web["label"]
            assert [name for name, _ in a.top] == [name for name, _ in b.top] == [t["class"] for t in web["top"]]
            for (_, p), (_, q), t in zip(a.top, b.top, web["top"]):
                assert abs(p - t["probability"]) <= 1e-4 and abs(q - t["probability"]) <= 1e-4


@pytest.mark.slow  # the ONNX export: the full suite runs it
def test_the_server_describes_its_model_and_serves_its_page(trained, exported):
    with visionpath.serve(exported, port=0, background=True) as server:
        connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=30)
        answers = {}
        for path in ("/health", "/model", "/", "/page/page.js", "/page/page.css", "/page/theme.css"):
            connection.request("GET", path)
            response = connection.getresponse()
            answers[path] = response.status, response.read()
    assert {status for status, _ in answers.values()} == {200}
    assert json.loads(answers["/health"][1]) == {"status": "ok", "pictures": 0, "batches": 0}
    about = json.loads(answers["/model"][1])
    assert about["classes"] == ["ant", "bee", "cat"]
    assert about["input_shape"] == list(visionpath.load_model(trained["lite0"])[1]["input_shape"])
    assert about["model"] == "efficientnet_lite0" and about["visionpath_version"] == visionpath.__version__
    page = answers["/"][1].decode()
    assert "/page/page.js" in page and "http://" not in page and "https://" not in page  # nothing from the internet


def test_concurrent_clients_are_classified_together(trained, monkeypatch):
    pictures = sorted(trained["pictures"].parent.rglob("*.png"))[:16]  # 12 test pictures, 4 from train
    expected = {p.path: p for p in visionpath.predict(trained["cnn"], pictures)}
    batches = []
    real = serve_module.classifier

    def slow_classifier(run, device):
        classify, meta = real(run, device)

        def counted(batch):
            batches.append(len(batch))
            if len(batches) == 1:
                time.sleep(0.5)  # the first batch keeps the model busy while the other clients' pictures queue
            return classify(batch)
        return counted, meta
    monkeypatch.setattr(serve_module, "classifier", slow_classifier)
    with visionpath.serve(trained["cnn"], port=0, background=True) as server, ThreadPoolExecutor(16) as clients:
        answers = list(clients.map(lambda path: post_files(server.url, sent([path])), pictures))
    assert [status for status, _ in answers] == [200] * 16
    for path, (_, answer) in zip(pictures, answers):
        mine = expected[str(path)]
        assert answer["predictions"][0]["label"] == mine.label
        assert abs(answer["predictions"][0]["probability"] - mine.probability) <= 1e-4
    assert sum(batches) == 16 and max(batches) > 1 and len(batches) < 16, batches


def chunked_post(url: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    connection.request("POST", "/predict", iter([b"--x\r\n", b"..."]), {"Content-Type": "multipart/form-data; "
                       "boundary=x"}, encode_chunked=True)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def claiming(picture: Path, format: str) -> bytes:
    """A small picture saved as `format` whose header claims 65,535 × 65,535 pixels (Pillow refuses to open it)."""
    import io
    import struct
    buffer = io.BytesIO()
    Image.open(picture).convert("RGB").save(buffer, format)
    data = bytearray(buffer.getvalue())
    if format == "GIF":
        data[6:10] = struct.pack("<HH", 65535, 65535)  # the logical screen
    else:
        start = data.index(b"\xff\xc0")  # the frame header: length, precision, height, width
        data[start + 5:start + 9] = struct.pack(">HH", 65535, 65535)
    return bytes(data)


@pytest.mark.slow  # over 2.5 s here: the full suite runs it
def test_large_pictures_from_many_clients_are_decoded_one_at_a_time(trained, tmp_path, monkeypatch):
    """Four clients at once, each with a 9-megapixel picture, and --max-pixels 10 million: the server decodes one
    at a time (they would otherwise hold 4 × 27 MB decoded together, a 49-megapixel photo 150 MB each); four with
    small pictures are decoded together."""
    import threading
    large = tmp_path / "large.png"
    Image.new("RGB", (3000, 3000), "white").save(large)
    small = sorted(trained["pictures"].rglob("*.png"))[0]
    lock, now, most = threading.Lock(), [0], [0]
    real = serve_module.load_images

    def counted(*args, **kwargs):
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.3)
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                now[0] -= 1
    monkeypatch.setattr(serve_module, "load_images", counted)
    with visionpath.serve(trained["cnn"], port=0, max_pixels=10_000_000, background=True) as server, \
            ThreadPoolExecutor(4) as clients:
        answers = list(clients.map(lambda _: post_files(server.url, sent([large])), range(4)))
        assert [status for status, _ in answers] == [200] * 4 and most[0] == 1
        most[0] = 0
        answers = list(clients.map(lambda _: post_files(server.url, sent([small])), range(4)))
        assert [status for status, _ in answers] == [200] * 4 and most[0] > 1


def test_every_bad_request_gets_one_sentence_and_the_right_status(trained, tmp_path):
    good = sorted(trained["pictures"].rglob("*.png"))[0]
    bomb = tmp_path / "bomb.png"
    Image.new("1", (9000, 9000)).save(bomb)  # 81 megapixels in 10 KB: 243 MB once decoded to RGB
    assert bomb.stat().st_size < 20_000
    jpeg = tmp_path / "photo.jpg"
    Image.open(good).convert("RGB").resize((64, 64)).save(jpeg)
    cases = {
        "a text file": ([("notes.txt", b"not a picture")], 400, "notes.txt is not a picture"),
        "a picture cut short": ([("cut.jpg", jpeg.read_bytes()[:300])], 400, "cut.jpg"),
        "a decompression bomb": ([("bomb.png", bomb.read_bytes())], 413, "9,000×9,000 pixels"),
        "a JPEG claiming 65,535² pixels": ([("huge.jpg", claiming(jpeg, "JPEG"))], 413, "huge.jpg claims more pixels"),
        "a GIF claiming 65,535² pixels": ([("huge.gif", claiming(jpeg, "GIF"))], 413, "huge.gif claims more pixels"),
        "too large an upload": ([("big.png", b"x" * 60_000)], 413, "more than this server takes in one request"),
        "too many photos": ([("p.png", good.read_bytes())] * 65, 400, "at most 64"),
        "no photo": ([], 400, "has no photo"),
    }
    with visionpath.serve(trained["cnn"], port=0, max_upload_mb=0.05, background=True) as server:
        address = server.url
        for case, (files, status, words) in cases.items():
            code, answer = post_files(address, files)
            assert (code, set(answer)) == (status, {"error"}) and words in answer["error"], case
            assert answer["error"].endswith(".") and "\n" not in answer["error"] and "Traceback" not in answer["error"]
        code, answer = post_files(address, sent([good]), path="/predict?top_k=0")
        assert code == 400 and "top_k" in answer["error"]
        code, answer = chunked_post(address)
        assert code == 411 and "Content-Length" in answer["error"]
        code, answer = post_files(address, sent([good]))  # nothing of that cost the server anything
        assert code == 200 and answer["predictions"][0]["file"] == good.name


@pytest.mark.slow
def test_the_command_serves_until_ctrl_c_and_warns_when_open_to_the_network(trained):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "visionpath", "serve", str(trained["cnn"]), "--host", "0.0.0.0",
                               "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        while not any("serving" in line for line in lines):
            lines.append(server.stdout.readline())
            assert lines[-1], "".join(lines)
        assert "warning: --host 0.0.0.0 opens the server to other machines" in "".join(lines)
        address = lines[-1].split("http://")[1].split()[0]
        assert address.startswith("127.0.0.1:")
        connection = http.client.HTTPConnection(address, timeout=30)
        connection.request("GET", "/health")
        assert connection.getresponse().status == 200
        with pytest.raises(VisionpathError, match=f"cannot listen on 127.0.0.1:{address.split(':')[1]}: it is in use"):
            visionpath.serve(trained["cnn"], port=int(address.split(":")[1]))
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=30)
    finally:
        server.kill()
    assert server.returncode == 0 and rest.strip().endswith("stopped"), rest


def test_without_the_serve_extra_one_sentence_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    with pytest.raises(VisionpathError, match=r"needs uvicorn, which is not installed: pip install "
                                              r"'visionpath\[serve\]'"):
        visionpath.serve("runs/anything")
