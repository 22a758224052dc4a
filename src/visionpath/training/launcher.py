"""Several processes: `train(devices=...)` started through torchrun's launcher, and a restart of the same launch
finding its run again."""
from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path

from ..config import TrainConfig
from ..console import say
from ..distributed import Processes, launch, on_main, parse_devices, under_torchrun
from ..errors import AlreadySaid, VisionpathError
from ..files import atomic_write
from ..i18n import language, tr
from ..run import Run
from .pictures import check_share
from .start import given_config, open_for_resume
from .stopping import saved_through


def launched(devices: str | int, data, config: TrainConfig | None, resume, settings: dict) -> Run:
    """`train` in the processes `devices` asks for: `visionpath train` with the same settings, started through
    torchrun's launcher. The run is the folder their rank 0 made."""
    if resume is not None:
        open_for_resume(resume, data, config, settings)  # a run that cannot be resumed: said here, once
        argv = ["train", "--resume", str(resume)]
    else:
        given = given_config(data, config, settings)  # a bad setting: said here, once
        if given.batch_size is not None:
            check_share(given.batch_size, parse_devices(devices)[0])
        argv = ["train", *given.arguments()]
    with tempfile.TemporaryDirectory() as folder:
        record = Path(folder) / "run"
        ended = launch(argv, devices, {RUN_RECORD: str(record), "VISIONPATH_LANG": language()})
        path = Path(resume) if resume is not None else Path(record.read_text()) if record.is_file() else None
    if ended.killed:
        world = Processes(world=parse_devices(devices)[0])
        raise VisionpathError(tr("{killed}; {saved}", killed=ended.killed,
                                 saved=saved_through(path, world) if path else tr("no run folder was made.")))
    if ended.status not in (0, 1, 130) or path is None:
        raise AlreadySaid(tr("the training processes stopped with exit status {status}", status=ended.status))
    run = Run(path)
    run.diverged, run.interrupted = ended.status == 1, ended.status == 130
    return run


# the file where the launched processes' rank 0 writes its run folder's path, for the launching process
RUN_RECORD = "VISIONPATH_RUN_RECORD"


def record_launch(run_dir: Path, processes: Processes) -> None:
    """Rank 0, under torchrun: the run folder's path for a launching `train(devices=...)`, and launch.json, by which
    a restart of the same launch finds the run again (restarted_run)."""
    if not processes.main or not under_torchrun():
        return
    if RUN_RECORD in os.environ:
        atomic_write(Path(os.environ[RUN_RECORD]), str(run_dir))
    atomic_write(run_dir / "launch.json", json.dumps({"torchrun": launch_key()}))


def launch_key() -> str:
    """Which torchrun launch this process belongs to, the same across torchrun's restarts of it: the rendezvous id,
    this machine, and torchrun's own process (the parent of the processes it starts)."""
    return f"{os.environ.get('TORCHELASTIC_RUN_ID', 'none')}@{socket.gethostname()}:{os.getppid()}"


def restarted_run(processes: Processes, config: TrainConfig | None, settings: dict) -> Path | None:
    """After torchrun restarted the processes (--max-restarts), the run their first start made, to resume from its
    last finished epoch; None on a first start, or when no epoch of that run had finished."""
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    if not under_torchrun() or restart == 0:
        return None
    project = Path(settings.get("project", config.project if config is not None else TrainConfig.project))

    def find() -> Path | None:
        ours = [record.parent for record in project.glob("*/launch.json")
                if json.loads(record.read_text()).get("torchrun") == launch_key()
                and (record.parent / "last.safetensors").is_file()]
        return max(ours, key=lambda run: run.stat().st_mtime) if ours else None
    earlier = on_main(processes, find)
    if earlier is not None:
        say(tr("torchrun restarted the processes (restart {restart}): resuming {earlier} from its last finished "
               "epoch",
               restart=restart, earlier=earlier))
    return earlier
