"""visionpath studio: the whole path in a browser, on this machine. Make classes, add pictures (files, folders or
the camera), see the data check, train with the photo defaults within a budget, read the report, try the model on
the camera, and take it away as ONNX; every step shows its `visionpath` command and Python call.

    pip install 'visionpath[studio]'
    visionpath studio                    # http://127.0.0.1:8000 ; --project DIR (default ./studio), --port, --host

The rooms: project.py (the folders on disk: the studio's whole state), trainer.py (training in a child process),
app.py (the page and its JSON API); the page's files are in studio/page/.
"""
from __future__ import annotations

import threading
import webbrowser
from pathlib import Path
from typing import Annotated

from ..console import say
from ..i18n import tr
from ..options import Option, check_project, checked
from ..extras import require
from ..serve import WEB_STACK, Limits, Serving, address, is_loopback, listening_socket, until_stopped

__all__ = ["studio"]


class Studio(Serving):
    """A studio running in a thread of this process (`studio(..., background=True)`): its .url, .project and
    stop(), which cancels a training (its finished epochs kept) and closes the page's event streams first."""

    def __init__(self, server, sock, url: str, project: Path, closing: threading.Event):
        super().__init__(server, sock, url)
        self.project, self.closing = project, closing

    def stop(self) -> None:
        self.closing.set()
        super().stop()


@checked
def studio(project: Annotated[str | Path, Option("the project folder: its classes' pictures (data/) and runs (runs/) "
                                                 "(made when missing)")] = "studio",
           host: Annotated[str, Option("the address to listen on (default: 127.0.0.1, this machine only; another "
                                       "opens the studio, with no login, to the network)")] = "127.0.0.1",
           port: Annotated[int, Option("the port (0: any free one)", valid="[0, 65535]")] = 8000,
           open_browser: Annotated[bool, Option("open the page in this machine's browser")] = True,
           max_upload_mb: Annotated[float, Option("the largest request", valid="≥ 0.001", metavar="MB")
                                    ] = Limits.max_upload_mb,
           max_pixels: Annotated[int, Option("the largest picture, by its header, before it is decoded: "
                                             "decompression bombs are refused", valid="≥ 1", metavar="N")
                                 ] = Limits.max_pixels,
           background: bool = False) -> Studio | None:
    """The studio for `project` (a folder, made when missing) at http://host:port until Ctrl-C. host: 127.0.0.1
    keeps it on this machine; another address opens it to the network, with no login. port: 0 picks a free one.
    open_browser: open the page in this machine's browser. max_upload_mb, max_pixels: the largest request, and
    the largest picture by its header, as `serve` bounds them. background: return at once with a `Studio` (.url;
    .stop()) and serve from a thread, so that a notebook can go on."""
    for module, package in WEB_STACK:  # serve's web stack, or one sentence saying how to install it
        require(module, "studio", "visionpath studio", package=package)
    import uvicorn
    from .app import application
    from .project import Project
    check_project(project)  # as train's --project: a folder, or nothing yet under one you can write in
    folder = Project(project)
    closing = threading.Event()
    app = application(folder, Limits(max_upload_mb, max_pixels), closing)
    sock = listening_socket(host, port)
    if not is_loopback(host):
        say(tr("warning: --host {host} opens the studio to other machines: anyone who can reach port {port} can "
               "see, add and delete its pictures and train; there is no login", host=host,
               port=sock.getsockname()[1]))
    url = address(host, sock)
    say(tr("studio for {project} at {url}  (open it in a browser; {stop} stops, and a training in progress keeps "
           "its finished epochs)", project=folder.root, url=url, stop="stop()" if background else "Ctrl-C"))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5))
    app.state.server = server  # the page's event streams end when it is asked to stop (Ctrl-C included)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, (url,)).start()
    if background:
        return Studio(server, sock, url, folder.root, closing)
    until_stopped(server, sock)  # Ctrl-C: the event streams end, and the lifespan stops a training
    return None
