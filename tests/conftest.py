"""Shared fixtures: tiny image folders, a local HTTP server, trained runs for `visionpath serve` and an HTTP
client for it. Nothing here touches the internet."""
from __future__ import annotations

import http.client
import http.server
import json
import os
import signal
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_configure(config):
    """pytest-xdist's workers (pyproject's addopts: -n logical) share the cores: each takes its share of torch
    threads instead of all of them (on 2 cores the quick tests took 166 s with 2 threads a worker, 126 s with 1)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


# the files whose tests take a minute or more each on 2 cores (a browser or a child process training, a notebook)
LONGEST = ("test_studio_page.py", "test_studio.py", "test_lessons.py")


def pytest_collection_modifyitems(items):
    """The longest tests first, then the other slow ones, then the rest (each group in file order): the workers
    (pytest-xdist's worksteal) take tests from the front and hand the back of their queue to an idle one, so a
    long test left for the end would keep one worker busy while the others wait."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, item.path.name not in LONGEST))


@pytest.fixture(autouse=True)
def ctrl_c_reaches_python():
    """Ctrl-C is Python's KeyboardInterrupt in every test, as in a terminal, also where the suite was started with
    SIGINT ignored: a non-interactive shell's background job (`pytest &`, nohup) inherits that, and visionpath then
    leaves Ctrl-C alone by design, so the tests that press it failed by how they were started."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def isolate(patch: pytest.MonkeyPatch, home: Path) -> None:
    """Its own cache, no network, and a machine that measures nothing: what every test and every fixture that trains
    runs under (a session fixture is made before the test's own fixtures, so it calls this itself)."""
    patch.setenv("VISIONPATH_HOME", str(home))
    patch.setenv("VISIONPATH_OFFLINE", "1")
    patch.setenv("VISIONPATH_LANG", "en")  # the messages tests read, whatever this machine's $LANG
    patch.delenv("VISIONPATH_DATA_DIR", raising=False)
    # --precision auto decides fp32 without measuring, unless the suite is run with the decision forced the other
    # way (VISIONPATH_PRECISION=bf16 python -m pytest): no test depends on what this machine would measure
    patch.setenv("VISIONPATH_PRECISION", os.environ.get("VISIONPATH_PRECISION") or "fp32")
    # the photo backbone's speed, as a laptop CPU measures it (seconds a million pixels, forward and fine-tuning):
    # a folder's plan is the same on every machine, and no test spends seconds measuring
    patch.setenv("VISIONPATH_SPEED", "0.1,0.3")
    # at that speed a tiny folder leaves a budget with time to spare: the plan would ask a head on Lite0's frozen
    # features whether a larger backbone is worth it (seconds); only the tests of that choice let it
    from visionpath import defaults  # here, not at the top: pytest-xdist's controller, which runs no test, never
    patch.setattr(defaults, "LARGER_BACKBONES", ())  # imports torch (9 s on a slow 2-core machine)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and no network: a test that would download fails loudly instead."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))


def class_pattern(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """An easy-to-learn picture for class `label`: a bright band at a class-specific place, plus noise."""
    image = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    band = slice(label * size // 4, label * size // 4 + size // 4)
    image[band, :, label % 3] = 255
    return image


def photo(seed: int, size: int = 64) -> Image.Image:
    """A picture with structure (smooth blobs), each seed its own, so near-duplicate measures mean something."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)


def photo_folder(root: Path) -> Path:
    """root/train|validation|test/ant|bee/i.png: 6 photos a class in train, 3 in the others, each photo its own."""
    for s, split in enumerate(("train", "validation", "test")):
        for k, name in enumerate(("ant", "bee")):
            (root / split / name).mkdir(parents=True)
            for i in range(6 if split == "train" else 3):
                photo(100 * k + 20 * s + i).save(root / split / name / f"{i}.png")
    return root


def make_folder(root: Path, classes=("ant", "bee", "cat"), per_class: dict | None = None, size: int = 12,
                seed: int = 0) -> Path:
    """root/<split>/<class>/i.png with `per_class[split]` images of each class."""
    per_class = per_class or {"train": 10, "validation": 4, "test": 4}
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for label, name in enumerate(classes):
            folder = root / split / name if split else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(class_pattern(label, size, rng)).save(folder / f"{i}.png")
    return root


@pytest.fixture
def tiny_folder(tmp_path) -> Path:
    return make_folder(tmp_path / "photos")


class FileServer:
    """Serves `files[path] = bytes` on 127.0.0.1. `truncate[path] = n`: announce the full length, send n bytes,
    hang up (for that many requests). `requests` counts what was asked for."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.truncate: dict[str, int] = {}
        self.truncate_times: dict[str, int] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.truncate_times.get(self.path, 0) > 0:
                    server.truncate_times[self.path] -= 1
                    self.wfile.write(body[: server.truncate[self.path]])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server(monkeypatch):
    monkeypatch.delenv("VISIONPATH_OFFLINE", raising=False)
    server = FileServer()
    yield server
    server.close()


def mislabel_validation(root: Path) -> Path:
    """Give validation/'s class folders each other's names (ant -> bee -> cat -> ant): a model that learns train
    gets validation wrong, more confidently every epoch, so the best validation epoch is the first."""
    folders = sorted(p for p in (root / "validation").iterdir() if p.is_dir())
    for folder in folders:
        folder.rename(folder.with_name(folder.name + ".tmp"))
    for folder, target in zip(folders, folders[1:] + folders[:1]):
        folder.with_name(folder.name + ".tmp").rename(target)
    return root


def post_files(url: str, files: list[tuple[str, bytes]], path: str = "/predict",
               headers: dict | None = None) -> tuple[int, dict]:
    """POST files as multipart/form-data (each a `file` field), as a browser or curl -F would: (status, JSON)."""
    boundary = uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                    f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
                    for name, data in files) + f"--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    connection.request("POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                            **(headers or {})})
    response = connection.getresponse()
    answer = response.status, json.loads(response.read())
    connection.close()
    return answer


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A Lite0 run on its offline ImageNet weights and a small CNN run, made once."""
    import visionpath
    with pytest.MonkeyPatch.context() as patch:
        isolate(patch, tmp_path_factory.mktemp("home"))
        folder = make_folder(tmp_path_factory.mktemp("data") / "photos")
        runs = tmp_path_factory.mktemp("runs")
        quick = {"epochs": 1, "batch_size": 8, "augment": "none"}
        lite0 = visionpath.train(folder, project=runs, model="efficientnet_lite0", pretrained=True, image_size=64,
                                 fine_tune_epochs=0, **quick)
        # trained long enough that every picture gets its own answer: a mix-up between clients would show
        cnn = visionpath.train(folder, project=runs, model="cnn", **{**quick, "epochs": 8})
    return {"lite0": lite0.path, "cnn": cnn.path, "pictures": folder / "test"}


@pytest.fixture(scope="session")
def exported(trained) -> Path:
    """The Lite0 run's model.onnx, exported once (12 s here: the tests that need it run in the full suite)."""
    import visionpath
    return visionpath.export(trained["lite0"])


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """A folder of real photos (scikit-image's cat, espresso, astronaut, rocket), larger than the models' pictures
    and of other shapes, as JPEG and PNG: the decoder's resize is part of what is compared."""
    skimage_data = pytest.importorskip("skimage.data")
    folder = tmp_path_factory.mktemp("photos")
    for name, suffix in (("chelsea", ".jpg"), ("coffee", ".png"), ("astronaut", ".jpg"), ("rocket", ".jpg")):
        Image.fromarray(getattr(skimage_data, name)()).save(folder / f"{name}{suffix}")
    return folder
