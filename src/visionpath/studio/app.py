"""The studio's web application: the page, and the JSON API it calls. Starlette, as `serve` (whose upload bounds,
decoding and answers it shares).

    GET    /                                   the page (its files: studio/page/, nothing from a CDN)
    GET    /api/state                          the project, the data check, the training, the runs, the commands
    GET    /api/events                         the same, pushed as server-sent events whenever it changes
    POST   /api/language                       {"lang": "en" or "ja"}: the browser's, unless --lang chose
    POST   /api/classes                        {"name": ...}: a new class
    DELETE /api/classes/{class}                the class and its pictures
    POST   /api/classes/{class}/pictures       multipart files: added, each refused one with its sentence
    GET    /api/classes/{class}/pictures/{p}   a thumbnail (?full=1: the file)
    DELETE /api/classes/{class}/pictures/{p}
    POST   /api/classes/{class}/pictures/{p}/move   {"to": class}
    POST   /api/train                          {"budget": minutes}: train, or resume the last run cut short
    POST   /api/cancel                         Ctrl-C to the training: every finished epoch is kept
    GET    /api/runs/{run}/{file}              report.html, curves.png, summary.txt, results.csv, config.json
    POST   /api/runs/{run}/predict             multipart files -> serve's answer (?min_confidence=)
    GET    /api/runs/{run}/model.onnx          the model as ONNX (exported the first time)
    GET    /api/runs/{run}/run.zip             the run folder
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
import zipfile
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..console import quietly
from ..data.check import check_data, kinds
from ..errors import VisionpathError
from ..export import export
from ..i18n import LANGUAGES, chosen_language, language, set_language, tr
from ..predict import classifier
from ..run_files import kept_epoch, read_history
from ..serve import PAGE as SERVE_PAGE
from ..serve import Limits, PixelBudget, Refused, decoded_uploads, pixels_of, read_uploads, top_of
from .project import Project, Refusal
from .trainer import Training, is_finished

PAGE = Path(__file__).parent / "page"
RUN_FILES = {"report.html": "text/html", "curves.png": "image/png", "summary.txt": "text/plain; charset=utf-8",
             "results.csv": "text/csv; charset=utf-8", "config.json": "application/json"}
EVENT_SECONDS = 0.5     # how often the state is looked at for the page's events


class Checker:
    """The data check of the project's folder, run in a thread whenever the pictures change (once more if they
    changed while it ran): its findings, for the page."""

    def __init__(self, project: Project):
        self.project, self.changes, self.checked = project, 1, 0
        self.result: dict = {"status": None, "findings": []}
        self.lock, self.thread = threading.Lock(), None

    def changed(self) -> None:
        with self.lock:
            self.changes += 1
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, daemon=True, name="visionpath-studio-check")
                self.thread.start()

    def wait(self, seconds: float = 60) -> None:
        """Let a check in progress end (the studio is stopping): a thread killed mid-check by the interpreter's
        exit takes PyTorch's threads down with a C++ 'terminate called' message."""
        thread = self.thread
        if thread is not None:
            thread.join(seconds)

    def _run(self) -> None:
        while self.checked < self.changes:
            changes = self.changes
            try:
                with quietly():
                    found = check_data(self.project.data)
                result = {"status": found.status, "verdict": found.verdict, "counts": found.counts,
                          "findings": by_kind(found.findings)}
            except VisionpathError as e:  # an empty project: the loader's sentence says what it lacks
                result = {"status": 2, "verdict": str(e), "findings": []}
            except Exception as e:  # noqa: BLE001 a picture being written as it is read: checked again next time
                result = {"status": None, "verdict": tr("the check failed ({error}); it runs again with the next "
                                                        "picture", error=e), "findings": []}
            self.result, self.checked = result, changes


def by_kind(findings: list) -> list[dict]:
    """The findings counted by kind, as the terminal's summary counts them: a folder with a thousand duplicate
    pairs gets one line for them, with what to do; a kind found once keeps its own sentence."""
    names, grouped = kinds(), {}
    for finding in findings:
        grouped.setdefault(finding.kind, []).append(finding)
    lines = []
    for kind, found in grouped.items():
        name, todo = names.get(kind, (kind, ""))
        what = found[0].what if len(found) == 1 else f"{name} ({len(found):,}): {todo or found[0].what}"
        lines.append({"kind": kind, "level": found[0].level, "count": len(found),
                      "pictures": len({path for f in found for path in f.paths}), "what": what})
    return sorted(lines, key=lambda line: line["level"] != "error")


def run_summary(run: Path) -> dict:
    """A run, as the page lists it: finished or not, its epochs, scores and summary."""
    history = read_history(run)
    metrics = run / "test_metrics.json"
    test = json.loads(metrics.read_text()) if metrics.is_file() else {}
    summary = run / "summary.txt"
    return {"name": run.name, "finished": is_finished(run), "epochs": len(history),
            "best_val_accuracy": kept_epoch(history)["val_accuracy"] if history else None,  # best.safetensors' epoch
            "test_accuracy": test.get("accuracy"), "test_pictures": sum(map(sum, test.get("confusion", []))),
            "summary": summary.read_text(encoding="utf-8") if summary.is_file() else "",
            "onnx": (run / "model.onnx").is_file()}


def commands(project: Project, training: Training, run: str | None) -> dict:
    """Each step's equivalent `visionpath` command and Python call, for the page to show."""
    data, runs = project.data, project.runs
    chosen = str(runs / run) if run else str(runs / "run-1")
    return {
        "pictures": [f"cp PHOTOS/* {data}/train/CLASS/   # every fifth picture into {data}/test/CLASS/",
                     f"visionpath data check {data}", f'visionpath.check_data("{data}")'],
        "train": [" ".join(training.command(5, None)),
                  f'visionpath.train("{data}", project="{runs}", name="run", budget=5)'],
        "report": [f"visionpath report {chosen}", f'visionpath.Run("{chosen}").report()'],
        "try": [f"visionpath serve {chosen}", f'visionpath.predict("{chosen}", ["photo.jpg"])'],
        "export": [f"visionpath export {chosen}", f'visionpath.export("{chosen}")']}


def answered(work):
    """A route's work, with a Refusal (or a visionpath sentence) as its JSON error."""
    async def route(request):
        try:
            return await work(request)
        except (Refusal, Refused) as refused:
            return JSONResponse({"error": str(refused)}, status_code=refused.status)
        except VisionpathError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
    return route


async def fields(request) -> dict:
    """The request's JSON object, or a Refusal."""
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise Refusal(tr("send the request's fields as JSON.")) from None
    if not isinstance(data, dict):
        raise Refusal(tr("send the request's fields as JSON."))
    return data


class Handlers:
    """The routes' work, and what they share: the project, its training, its data check, and the bounds on
    uploads. It speaks the language --lang (or set_language) chose, else the page's: the browser's (a studio is
    one person's, on their machine)."""

    def __init__(self, project: Project, limits: Limits, closing: threading.Event):
        self.project, self.limits, self.closing = project, limits, closing
        self.training, self.checker = Training(project), Checker(project)
        self.budget = PixelBudget(limits.max_pixels)
        self.models: dict[tuple[str, int], tuple] = {}  # a run's classifier, by its best weights' time
        self.model_lock, self.export_lock = threading.Lock(), threading.Lock()
        self.fixed = chosen_language() is not None
        self.checker.changed()

    def state(self) -> dict:
        runs = [run_summary(r) for r in self.project.run_folders()]
        status = self.training.status()
        return {"lang": language(), "lang_fixed": self.fixed, "project": str(self.project.root),
                **self.project.summary(), "check": self.checker.result,
                "checking": self.checker.checked < self.checker.changes, "training": status, "runs": runs,
                "commands": commands(self.project, self.training,
                                     status["run"] or (runs[-1]["name"] if runs else None))}

    # ------------------------------------------------------------------------------------------ the state
    async def get_state(self, request):
        return JSONResponse(await run_in_threadpool(self.state))

    async def events(self, request):
        """The state, pushed whenever it changes, until the page leaves or the studio stops."""
        server = getattr(request.app.state, "server", None)

        async def stream():
            last = None
            while not (self.closing.is_set() or (server and server.should_exit) or await request.is_disconnected()):
                now = json.dumps(await run_in_threadpool(self.state), ensure_ascii=False)
                if now != last:
                    yield f"event: state\ndata: {now}\n\n"
                    last = now
                await asyncio.sleep(EVENT_SECONDS)
        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def speak(self, request):
        lang = (await fields(request)).get("lang")
        if lang not in LANGUAGES:
            raise Refusal(tr("the studio speaks {languages}, not {lang}.", languages=", ".join(LANGUAGES),
                             lang=str(lang)[:20]))
        if not self.fixed:  # --lang chose already: that stays
            set_language(lang)
            self.checker.changed()  # its sentences, in the new language
        return JSONResponse({"lang": language()})

    # -------------------------------------------------------------------------------- classes and pictures
    async def new_class(self, request):
        name = self.project.add_class((await fields(request)).get("name"))
        self.checker.changed()
        return JSONResponse({"name": name}, status_code=201)

    async def remove_class(self, request):
        self.project.remove_class(request.path_params["label"])
        self.checker.changed()
        return JSONResponse({"removed": request.path_params["label"]})

    async def add_pictures(self, request):
        label = self.project.existing(request.path_params["label"])
        uploads = await read_uploads(request, self.limits)
        added, refused = [], []
        for upload in uploads:  # one at a time: a request holds at most its largest picture's pixels
            try:
                (pixels,) = await run_in_threadpool(pixels_of, [upload], self.limits)
                async with self.budget.held(pixels):
                    picture = await run_in_threadpool(self.project.add_picture, label, upload)
                added.append({"file": upload.name, "name": picture.name, "split": picture.split})
            except (Refusal, Refused) as e:
                refused.append({"file": upload.name, "error": str(e)})
        if added:
            self.checker.changed()
        return JSONResponse({"added": added, "refused": refused}, status_code=200 if added or not refused else 400)

    async def picture(self, request):
        label, name = request.path_params["label"], request.path_params["name"]
        if request.method == "DELETE":
            self.project.remove_picture(label, name)
            self.checker.changed()
            return JSONResponse({"removed": name})
        if request.query_params.get("full"):
            return FileResponse(self.project.picture(label, name))
        return Response(await run_in_threadpool(self.project.thumbnail, label, name), media_type="image/jpeg",
                        headers={"Cache-Control": "max-age=3600"})  # named by content: it never changes

    async def move(self, request):
        moved = self.project.move_picture(request.path_params["label"], request.path_params["name"],
                                          (await fields(request)).get("to"))
        self.checker.changed()
        return JSONResponse({"moved": moved.name, "to": moved.label})

    # ------------------------------------------------------------------------------------------- training
    async def train(self, request):
        minutes = (await fields(request)).get("budget", 5)
        if not isinstance(minutes, (int, float)) or isinstance(minutes, bool):
            raise Refusal(tr("the budget is a number of minutes."))
        short = self.project.summary()["advice"]
        if short:
            raise Refusal(short[0], 409)
        return JSONResponse({"command": " ".join(self.training.start(float(minutes)))}, status_code=202)

    async def cancel(self, request):
        self.training.cancel()
        return JSONResponse({"cancelling": self.training.status()["run"]})

    # ----------------------------------------------------------------------------- a run: report, try, take
    async def run_file(self, request):
        run, name = self.project.run(request.path_params["run"]), request.path_params["file"]
        if name not in RUN_FILES or not (run / name).is_file():
            raise Refusal(tr("run {run} has no {name} to show.", run=run.name, name=name[:40]), 404)
        return FileResponse(run / name, media_type=RUN_FILES[name])

    def loaded(self, run: Path):
        """The run's classifier, loaded once for its best weights."""
        best = run / "best.safetensors"
        key = (str(run), best.stat().st_mtime_ns if best.is_file() else 0)
        with self.model_lock:
            if key not in self.models:
                self.models.clear()
                self.models[key] = classifier(run, "auto")
            return self.models[key]

    async def predict(self, request):
        run = self.project.run(request.path_params["run"])
        threshold = request.query_params.get("min_confidence", "0.6")
        try:
            min_confidence = float(threshold)
        except ValueError:
            min_confidence = -1.0
        if not 0 <= min_confidence <= 1:
            raise Refusal(tr("min_confidence is a probability between 0 and 1, not '{value}'.", value=threshold[:20]))
        classify, meta = await run_in_threadpool(self.loaded, run)
        uploads, pictures = await decoded_uploads(request, self.limits, self.budget, meta)
        probabilities = await run_in_threadpool(classify, pictures)
        answers = top_of(probabilities, meta["classes"], len(meta["classes"]), min_confidence)
        return JSONResponse({"predictions": [{"file": u.name, **a} for u, a in zip(uploads, answers)]})

    async def onnx(self, request):
        run = self.project.run(request.path_params["run"])
        if not is_finished(run):
            raise Refusal(tr("run {run} has not finished; export it once it has.", run=run.name), 409)

        def exported() -> Path:
            with self.export_lock:
                path = run / "model.onnx"
                return path if path.is_file() else export(run)
        path = await run_in_threadpool(exported)
        return FileResponse(path, media_type="application/octet-stream", filename=f"{run.name}.onnx")

    async def zipped(self, request):
        run = self.project.run(request.path_params["run"])
        spool = await run_in_threadpool(packed, run)

        def chunks():
            with spool:
                while block := spool.read(1 << 20):
                    yield block
        return StreamingResponse(chunks(), media_type="application/zip",
                                 headers={"Content-Disposition": f'attachment; filename="{run.name}.zip"'})


def packed(run: Path):
    """The run folder as a zip, in a temporary file (gone when closed)."""
    spool = tempfile.TemporaryFile()
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(run.rglob("*")):
            if path.is_file() and not path.name.startswith(".") and not path.is_symlink():
                archive.write(path, Path(run.name) / path.relative_to(run))
    spool.seek(0)
    return spool


def application(project: Project, limits: Limits = Limits(), closing: threading.Event | None = None) -> Starlette:
    """The studio's ASGI application for `project`: the page and the routes of the module's docstring."""
    studio = Handlers(project, limits, closing or threading.Event())

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        studio.closing.set()
        await run_in_threadpool(studio.training.stop)  # the run keeps its finished epochs and can be resumed
        await run_in_threadpool(studio.checker.wait)

    app = Starlette(routes=[
        Route("/", lambda request: FileResponse(PAGE / "index.html")),
        Route("/page/theme.css", lambda request: FileResponse(SERVE_PAGE / "theme.css")),  # serve's, shared
        Route("/api/state", answered(studio.get_state)),
        Route("/api/events", studio.events),
        Route("/api/language", answered(studio.speak), methods=["POST"]),
        Route("/api/classes", answered(studio.new_class), methods=["POST"]),
        Route("/api/classes/{label}", answered(studio.remove_class), methods=["DELETE"]),
        Route("/api/classes/{label}/pictures", answered(studio.add_pictures), methods=["POST"]),
        Route("/api/classes/{label}/pictures/{name}", answered(studio.picture), methods=["GET", "DELETE"]),
        Route("/api/classes/{label}/pictures/{name}/move", answered(studio.move), methods=["POST"]),
        Route("/api/train", answered(studio.train), methods=["POST"]),
        Route("/api/cancel", answered(studio.cancel), methods=["POST"]),
        Route("/api/runs/{run}/predict", answered(studio.predict), methods=["POST"]),
        Route("/api/runs/{run}/model.onnx", answered(studio.onnx)),
        Route("/api/runs/{run}/run.zip", answered(studio.zipped)),
        Route("/api/runs/{run}/{file}", answered(studio.run_file)),
        Mount("/page", StaticFiles(directory=PAGE)),
    ], lifespan=lifespan)
    app.state.studio = studio  # the training's child process, for the tests
    return app
