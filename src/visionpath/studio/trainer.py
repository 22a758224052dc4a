"""Training from the studio: `visionpath train` in a child process, as a user would type it, one at a time.

The page learns how the run goes from the run folder's own records (results.csv, one row per epoch, written whole)
and from what the command prints (its log, PROJECT/training.log), not from a second channel that could disagree
with them. Cancel is Ctrl-C: the run keeps every finished epoch, and training again resumes it. If the studio
stops, the run is stopped the same way and its folder is whole and resumable.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..errors import VisionpathError
from ..i18n import language, tr
from ..run_files import read_history
from .project import Project, Refusal

LOG = "training.log"
SHOWN_LINES = 80        # the log lines the page shows: the first ones (the plan) and the last
STOP_SECONDS = 120      # how long a cancelled run may take to save its epoch and write its report


def is_finished(run: Path) -> bool:
    """A run that reached its end writes summary.txt last."""
    return (run / "summary.txt").is_file()


class Training:
    """The project's training: at most one child process at a time."""

    def __init__(self, project: Project):
        self.project = project
        self.process: subprocess.Popen | None = None
        self.run: Path | None = None
        self.before: set[Path] = set()      # the run folders there were when it started: the new one is the run
        self.budget = 0.0                   # minutes, of a new run (a resumed one keeps its own, part spent)
        self.started = self.ended = 0.0
        self.cancelled = False
        self.lock = threading.Lock()

    def command(self, budget: float, resume: Path | None) -> list[str]:
        """The `visionpath` command the studio runs (and shows), without the interpreter."""
        if resume is not None:
            return ["visionpath", "train", "--resume", str(resume), "--lang", language()]
        return ["visionpath", "train", str(self.project.data), "--project", str(self.project.runs), "--name", "run",
                "--budget", f"{budget:g}", "--lang", language()]

    def resumable(self) -> Path | None:
        """The last run, when it stopped before its end with an epoch saved: training again resumes it."""
        runs = self.project.run_folders()
        if runs and not is_finished(runs[-1]) and (runs[-1] / "last.safetensors").is_file():
            return runs[-1]
        return None

    def start(self, budget: float) -> list[str]:
        """Train (or resume the last run, cut short) in a child process; the command it runs. Refusal when one is
        running already."""
        with self.lock:
            if self.running():
                raise Refusal(tr("a training is running already; wait for it, or cancel it."), 409)
            if not budget > 0 or budget > 24 * 60:
                raise Refusal(tr("the budget is minutes between 0 and 1,440, not {budget}.", budget=budget))
            resume = self.resumable()
            command = self.command(budget, resume)
            self.before = set(self.project.run_folders())
            self.run, self.budget, self.cancelled = resume, budget, False
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
            with open(self.project.root / LOG, "w", encoding="utf-8") as log:  # the child holds it open
                self.process = subprocess.Popen([sys.executable, "-m", "visionpath", *command[1:]], stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                                cwd=self.project.root)
            self.started, self.ended = time.time(), 0.0
            return command

    def running(self) -> bool:
        if self.process is None:
            return False
        if self.process.poll() is None:
            return True
        self.ended = self.ended or time.time()
        return False

    def cancel(self) -> None:
        """Ctrl-C to the run: it finishes saving the epoch it is in, keeps every finished one, and exits."""
        with self.lock:
            if not self.running():
                raise Refusal(tr("no training is running."), 409)
            self.cancelled = True
            self.process.send_signal(signal.SIGINT)

    def stop(self) -> None:
        """The studio is stopping: the run is cancelled and waited for, so that its folder is whole."""
        if self.running():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def current_run(self) -> Path | None:
        if self.run is None and self.process is not None:
            new = [p for p in self.project.run_folders() if p not in self.before]
            self.run = new[-1] if new else None
        return self.run

    def log_lines(self) -> list[str]:
        try:
            lines = (self.project.root / LOG).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        lines = [line for line in lines if line.strip()]
        return lines if len(lines) <= SHOWN_LINES else lines[:SHOWN_LINES // 2] + ["…"] + lines[-SHOWN_LINES // 2:]

    def status(self) -> dict:
        """Where the training stands: its state, run, epochs so far (results.csv), the budget and time, the log."""
        running = self.running()
        run = self.current_run()
        if self.process is None:
            state = "idle"
        elif running:
            state = "cancelling" if self.cancelled else "running"
        else:
            code = self.process.returncode
            state = "finished" if code in (0, 1) and run is not None and is_finished(run) else \
                "cancelled" if code == 130 or self.cancelled else "failed"
        now = self.ended if not running and self.ended else time.time()
        try:
            epochs = read_history(run) if run else []
        except VisionpathError:  # results.csv torn and no checkpoint to read it from: the log says more
            epochs = []
        return {"state": state, "run": run.name if run else None, "budget": self.budget,
                "resumed": run is not None and run in self.before,  # it was there before this start
                "elapsed": round(now - self.started, 1) if self.process else 0.0,
                "epochs": epochs, "log": self.log_lines(),
                "resumable": not running and (r := self.resumable()) is not None and r.name, "exit": None if running or
                self.process is None else self.process.returncode}
