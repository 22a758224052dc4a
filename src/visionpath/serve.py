"""Serving: a classifier behind a web page and a JSON API, on this machine (127.0.0.1) unless asked otherwise.

    visionpath serve runs/my_photos-1          # or a model.onnx that `visionpath export` wrote

The stack is Starlette on uvicorn (the `serve` extra, with python-multipart for uploads). FastAPI is Starlette
plus pydantic schemas and an API-docs page that loads its scripts from a CDN; four routes need neither, and the
page must work offline, so the lighter base is the better fit. Everything the page needs is in `visionpath/page/`.

    GET  /          the page: drop or pick photos (or use the camera), see the top classes as bars
    POST /predict   multipart, one or more file fields -> {"predictions": [{file, label, probability,
                    uncertain, top: [{class, probability}, ...]}, ...]}; ?top_k=N
    GET  /model     the model, its classes, input size and versions, and this server's limits
    GET  /health    {"status": "ok", "pictures": classified so far, "batches": in how many model calls}

An upload is decoded exactly as `predict` decodes the same file (`load_images` on its bytes), and the model is the
one `predict` would use, so the answers are `predict`'s. Pictures from concurrent requests are classified
together: the first waits a few milliseconds for company, and while the model works on one batch the next
gathers. Bounds: the request's size (Content-Length, before anything is read), the number of files, and each
picture's pixel count from its header before it is decoded (decompression bombs).
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable

import torch

from .console import say
from .data.images import InMemory, TooLarge, load_images, peek_image
from .errors import VisionpathError
from .extras import require
from .i18n import tr
from .options import DEVICE, Option, PROBABILITY, RUN_OR_EXPORTED, checked
from .predict import classifier
from .version import __version__

PAGE = Path(__file__).parent / "page"
WINDOW_S = 0.005   # how long the first picture waits for others: 5 ms is small beside a model's 10-100 ms
MAX_BATCH = 64     # pictures classified at once, at most
MAX_FILES = 64     # photos in one request


@dataclass(frozen=True)
class Limits:
    max_upload_mb: float = 32         # a request's size: a dozen phone photos
    max_pixels: int = 64_000_000      # a picture's pixel count, read from its header (a 48-megapixel photo passes)


class Refused(Exception):
    """A request that gets an HTTP error and one sentence."""

    def __init__(self, status: int, sentence: str):
        super().__init__(sentence)
        self.status = status


class Batcher:
    """Pictures from concurrent requests, classified together in one thread that owns the model."""

    def __init__(self, classify: Callable[[torch.Tensor], torch.Tensor]):
        self.classify = classify
        self.model_thread = ThreadPoolExecutor(1, thread_name_prefix="visionpath-model")
        self.queue: asyncio.Queue | None = None  # made in the server's event loop, by run()
        self.pictures = self.batches = 0  # classified so far: /health tells them

    async def __call__(self, pictures: torch.Tensor) -> torch.Tensor:
        answer = asyncio.get_running_loop().create_future()
        await self.queue.put((pictures, answer))
        return await answer

    async def run(self) -> None:
        self.queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        while True:
            waiting = [await self.queue.get()]
            deadline = loop.time() + WINDOW_S
            while sum(len(p) for p, _ in waiting) < MAX_BATCH:
                try:  # what queued while the model was busy is taken at once; then a short wait for more
                    waiting.append(self.queue.get_nowait() if not self.queue.empty() else
                                   await asyncio.wait_for(self.queue.get(), max(deadline - loop.time(), 0)))
                except asyncio.TimeoutError:
                    break
            batch = torch.cat([p for p, _ in waiting])
            try:
                probabilities = await loop.run_in_executor(self.model_thread, self.classify, batch)
            except Exception as e:  # the model failed: every waiting request hears it
                for _, answer in waiting:
                    if not answer.done():
                        answer.set_exception(e)
                continue
            self.pictures, self.batches = self.pictures + len(batch), self.batches + 1
            for (pictures, answer), rows in zip(waiting, probabilities.split([len(p) for p, _ in waiting])):
                if not answer.done():  # a client that left has cancelled its answer
                    answer.set_result(rows)


def pixels_of(uploads: list[InMemory], limits: Limits) -> list[int]:
    """Each upload's pixel count, from its header alone, or Refused: unreadable, or more than the server decodes."""
    counts = []
    for upload in uploads:
        try:
            (h, w), _ = peek_image(upload)
        except TooLarge:  # a header claiming more pixels than Pillow opens (a JPEG or GIF of 65,535² claimed)
            raise Refused(413, tr("{name} claims more pixels than this server decodes ({most:,}, --max-pixels); "
                                  "send a smaller picture.", name=upload.name, most=limits.max_pixels)) from None
        except VisionpathError:
            raise Refused(400, tr("{name} is not a picture that can be read; send JPEG, PNG, BMP, WebP, GIF, TIFF "
                                  "or AVIF files.", name=upload.name)) from None
        if h * w > limits.max_pixels:
            raise Refused(413, tr("{name} is {w:,}×{h:,} pixels, more than this server decodes ({most:,}, "
                                  "--max-pixels); send a smaller picture.", name=upload.name, w=w, h=h,
                                  most=limits.max_pixels))
        counts.append(h * w)
    return counts


def decode(uploads: list[InMemory], meta: dict) -> torch.Tensor:
    """The uploads as a uint8 batch at the model's input size, decoded as `predict` decodes files, or Refused."""
    channels, height, width = meta["input_shape"]
    decoded = load_images(uploads, (height, width), channels)
    for image in decoded:
        if isinstance(image, str):
            raise Refused(400, image)
    return torch.stack(decoded)


class PixelBudget:
    """The pixels being decoded at once, across every request: at most `most` (--max-pixels), so that many large
    uploads at the same moment wait their turn instead of each holding its decoded picture in memory together. A
    request decodes its pictures one after another, so it holds its largest one's pixels; one picture is always let
    through alone."""

    def __init__(self, most: int):
        self.most, self.used = most, 0
        self.freed: asyncio.Condition | None = None  # made in the server's event loop, at the first request

    @contextlib.asynccontextmanager
    async def held(self, pixels: int):
        self.freed = self.freed or asyncio.Condition()
        async with self.freed:
            await self.freed.wait_for(lambda: self.used == 0 or self.used + pixels <= self.most)
            self.used += pixels
        try:
            yield
        finally:
            async with self.freed:
                self.used -= pixels
                self.freed.notify_all()


async def read_uploads(request, limits: Limits) -> list[InMemory]:
    """The request's file fields, after its size is checked against the limit from its header alone."""
    from starlette.datastructures import UploadFile
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise Refused(411, tr("send the photos with a Content-Length header (as browsers, curl and requests do)."))
    if int(length) > limits.max_upload_mb * 1e6:
        raise Refused(413, tr("the upload is {mb:.1f} MB, more than this server takes in one request ({most:g} MB, "
                              "--max-upload-mb); send fewer or smaller photos.", mb=int(length) / 1e6,
                              most=limits.max_upload_mb))
    try:
        form = await request.form(max_files=MAX_FILES)
    except Exception as e:  # not multipart, malformed, or too many files: Starlette says which
        raise Refused(400, tr("send the photos as multipart/form-data file fields, at most {most} a request (e.g. "
                              "curl -F file=@photo.jpg URL/predict); this request could not be read ({error}).",
                              most=MAX_FILES, error=e))
    uploads = [InMemory(value.filename or key, await value.read()) for key, value in form.multi_items()
               if isinstance(value, UploadFile)]
    await form.close()
    if not uploads:
        raise Refused(400, tr("the request has no photo; send each as a file field (e.g. curl -F file=@photo.jpg "
                              "URL/predict)."))
    return uploads


async def decoded_uploads(request, limits: Limits, budget: PixelBudget, meta: dict
                          ) -> tuple[list[InMemory], torch.Tensor]:
    """A request's pictures, bounded (read_uploads, pixels_of) and decoded at the model's input size while the
    pixel budget holds the largest of them; Refused otherwise."""
    from starlette.concurrency import run_in_threadpool
    uploads = await read_uploads(request, limits)
    largest = max(await run_in_threadpool(pixels_of, uploads, limits))
    async with budget.held(largest):
        return uploads, await run_in_threadpool(decode, uploads, meta)


def top_of(rows: torch.Tensor, classes: list[str], top_k: int, min_confidence: float) -> list[dict]:
    """Each picture's top-k classes, most likely first, as the JSON the API answers."""
    probs, index = rows.topk(min(top_k, len(classes)), dim=1)
    return [{"label": classes[i[0]], "probability": p[0], "uncertain": p[0] < min_confidence,
             "top": [{"class": classes[c], "probability": q} for c, q in zip(i, p)]}
            for p, i in zip(probs.tolist(), index.tolist())]


def application(run: str | Path, top_k: int = 5, min_confidence: float = 0.6, limits: Limits = Limits(),
                device: str = "auto"):
    """The ASGI application serving `run` (a run folder or checkpoint, or an exported model.onnx)."""
    stack()
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    classify, meta = classifier(run, device)
    batcher, budget = Batcher(classify), PixelBudget(limits.max_pixels)
    about = {"model": meta["model"], "classes": meta["classes"], "input_shape": meta["input_shape"],
             "source": Path(run).name, "visionpath_version": __version__,
             "trained_with": meta.get("trained_with", meta.get("visionpath_version")), "top_k": top_k,
             "min_confidence": min_confidence, "max_upload_mb": limits.max_upload_mb,
             "max_pixels": limits.max_pixels, "max_files": MAX_FILES}

    async def predict(request):
        try:
            k = request.query_params.get("top_k", str(top_k))
            if not k.isdigit() or int(k) < 1:
                raise Refused(400, tr("top_k must be a whole number of at least 1, not '{value}'.", value=k))
            uploads, pictures = await decoded_uploads(request, limits, budget, meta)
        except Refused as refused:
            return JSONResponse({"error": str(refused)}, status_code=refused.status)
        answers = top_of(await batcher(pictures), meta["classes"], int(k), min_confidence)
        return JSONResponse({"predictions": [{"file": upload.name, **answer}
                                             for upload, answer in zip(uploads, answers)]})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(batcher.run())
        yield
        task.cancel()
        batcher.model_thread.shutdown(wait=False)

    return Starlette(routes=[
        Route("/", lambda request: FileResponse(PAGE / "index.html")),
        Route("/predict", predict, methods=["POST"]),
        Route("/model", lambda request: JSONResponse(about)),
        Route("/health", lambda request: JSONResponse({"status": "ok", "pictures": batcher.pictures,
                                                       "batches": batcher.batches})),
        Mount("/page", StaticFiles(directory=PAGE)),
    ], lifespan=lifespan)


WEB_STACK = (("starlette", "starlette"), ("python_multipart", "python-multipart"), ("uvicorn", "uvicorn"))


def stack():
    """uvicorn, or one sentence saying how to install what serving needs."""
    for module, package in WEB_STACK:
        require(module, "serve", "visionpath serve", package=package)
    import uvicorn
    return uvicorn


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: any free one), or one sentence saying why it cannot be."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # from now on a client waits in the backlog until uvicorn takes it, never refused
    except OSError as e:
        reason = tr("it is in use (is another server running?); choose another with --port") if \
            e.errno == 98 else tr("{strerror}; check --host and --port", strerror=e.strerror)
        raise VisionpathError(tr("cannot listen on {host}:{port}: {reason}.", host=host, port=port,
                                 reason=reason)) from None
    return sock


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Serving:
    """A server running in a thread of this process (`serve(..., background=True)`): its address, and stop()."""

    def __init__(self, server, sock: socket.socket, url: str):
        self.url, self.server, self.sock = url, server, sock
        self.thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                       name="visionpath-serve")
        self.thread.start()
        deadline = time.monotonic() + 60
        while not server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            self.stop()
            raise VisionpathError(tr("the server at {url} did not start within a minute; run `visionpath serve` in "
                                     "a terminal to see why.",
                                     url=url))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()

    def __enter__(self) -> Serving:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@checked
def serve(run: Annotated[str | Path, RUN_OR_EXPORTED],
          host: Annotated[str, Option("the address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens "
                                      "it to the network)")] = "127.0.0.1",
          port: Annotated[int, Option("the port (0: any free one)", valid="[0, 65535]")] = 8000,
          top_k: Annotated[int, Option("classes shown per photo", valid="≥ 1")] = 5,
          min_confidence: Annotated[float, PROBABILITY] = 0.6,
          max_upload_mb: Annotated[float, Option("the largest request", valid="≥ 0.001", metavar="MB")
                                   ] = Limits.max_upload_mb,
          max_pixels: Annotated[int, Option("the largest picture, by its header, before it is decoded: decompression "
                                            "bombs are refused", valid="≥ 1", metavar="N")] = Limits.max_pixels,
          device: Annotated[str, DEVICE] = "auto", background: bool = False) -> Serving | None:
    """Serve a run's classifier (its folder or checkpoint, or an exported model.onnx) as a web page and a JSON
    API until Ctrl-C. host: 127.0.0.1 keeps it on this machine; 0.0.0.0 opens it to the network (anyone who can
    reach the port can use it). port: 0 picks a free one. top_k: classes shown per photo (a request may ask for
    others with ?top_k=N). min_confidence: answers below it are marked uncertain (0.6: below that even a
    two-class answer is close to a coin toss). max_upload_mb: the largest request. max_pixels: the largest
    picture, by its header, before it is decoded. device: where the model runs (auto: a GPU when there is one).
    background: return at once with a `Serving` (its .url; .stop(), or use it in a with-block) and serve from a
    thread, so that a notebook can go on."""
    uvicorn = stack()
    app = application(run, top_k, min_confidence, Limits(max_upload_mb, max_pixels), device)  # a bad run first
    sock = listening_socket(host, port)
    if not is_loopback(host):
        say(tr("warning: --host {host} opens the server to other machines: anyone who can reach port {getsockname} "
               "can send it pictures; there is no login",
               host=host, getsockname=sock.getsockname()[1]))
    url = address(host, sock)
    say(tr("serving {name} at {url}  (open it in a browser; programs POST photos to /predict; {stop} stops)",
           name=Path(run).name, url=url, stop="stop()" if background else "Ctrl-C"))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5))
    if background:
        return Serving(server, sock, url)
    until_stopped(server, sock)
    return None


def address(host: str, sock: socket.socket) -> str:
    """The URL to open for a server listening on `sock` (bound to `host`): the loopback address for 'all'."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{sock.getsockname()[1]}"


def until_stopped(server, sock: socket.socket) -> None:
    """Serve in this thread until Ctrl-C; then the socket is closed and the server says so."""
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down cleanly on Ctrl-C, then raises it again for the caller
        pass
    finally:
        sock.close()
    say(tr("stopped"))
