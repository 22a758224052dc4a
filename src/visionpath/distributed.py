"""Several processes training one model, the standard PyTorch way: torchrun starts the processes and tells each its
rank in the environment; they join one process group (NCCL between GPUs, Gloo between CPU processes) and
DistributedDataParallel averages their gradients. This module holds the few collectives training needs besides:
sums of counts, gathering the rows each process computed, agreeing on an error, and handing out the run folder.

With one process (no torchrun, or torchrun with one) every collective here is a no-op, so the training loop has one
path. The library joins a process group only when `train` is called inside torchrun's environment.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, TypeVar

import torch
import torch.distributed as dist

from .devices import pick_device
from .errors import VisionpathError
from .i18n import tr

# Every collective gives up after this long instead of hanging: long enough for the slowest thing one process does
# while the others wait (decoding a large folder into the picture cache before the others map it). A machine that
# drops off the network is noticed this long after it went silent. $VISIONPATH_COLLECTIVE_TIMEOUT (seconds) sets
# another: the tests of a lost host use seconds.
TIMEOUT = timedelta(minutes=30)
TIMEOUT_HOOK = "VISIONPATH_COLLECTIVE_TIMEOUT"


def collective_timeout() -> timedelta:
    """How long a collective waits for the other processes: TIMEOUT, unless $VISIONPATH_COLLECTIVE_TIMEOUT says."""
    given = os.environ.get(TIMEOUT_HOOK)
    return timedelta(seconds=float(given)) if given else TIMEOUT
T = TypeVar("T")


@dataclass(frozen=True)
class Processes:
    """This process's place among the processes of one run."""
    rank: int = 0           # 0 .. world-1; rank 0 alone prints and writes
    world: int = 1          # how many processes train the model
    local_rank: int = 0     # its number on this machine: which GPU it takes
    local_world: int = 1    # processes on this machine
    backend: str = ""       # nccl or gloo, when world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def several(self) -> bool:
        return self.world > 1

    def sizes(self, n: int) -> list[int]:
        """How many of n items each process takes, in rank order (as tensor_split deals them: the first n % world
        take one more)."""
        base, extra = divmod(n, self.world)
        return [base + (rank < extra) for rank in range(self.world)]

    def shard(self, n: int) -> slice:
        """This process's contiguous share of n items."""
        sizes = self.sizes(n)
        start = sum(sizes[: self.rank])
        return slice(start, start + sizes[self.rank])

    def sharing(self, device: torch.device) -> int:
        """How many devices share the work, each as fast as this process's: every GPU, but on CPUs one machine
        (its processes share its cores)."""
        return self.world if device.type == "cuda" else max(1, self.world // self.local_world)

    def describe(self, batch_size: int) -> str:
        """The header line of a run: how many processes, which backend, each one's share of a batch."""
        shares = sorted(set(self.sizes(batch_size)))
        return tr("{world} processes ({backend}, {local_world} on this machine) train together: each takes {shares} "
                  "of the {batch_size} pictures of every batch (--batch-size is the whole batch) and "
                  "DistributedDataParallel averages their gradients", world=self.world, backend=self.backend,
                  local_world=self.local_world, shares="–".join(map(str, shares)), batch_size=batch_size)


ONE = Processes()


def under_torchrun() -> bool:
    """True in a process that torchrun (torch.distributed.run) started."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def join(device: str) -> tuple[Processes, torch.device]:
    """This process's place and training device. Under torchrun with several processes, joins their group: each
    takes the GPU of its local rank (NCCL), or trains on the CPU (Gloo)."""
    if not under_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return ONE, pick_device(device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank, local_world = int(os.environ["LOCAL_RANK"]), int(os.environ.get("LOCAL_WORLD_SIZE", world))
    chosen = pick_device(device)
    if chosen.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise VisionpathError(tr("{local_world} processes on this machine but {device_count} GPUs; start at "
                                     "most one process per GPU (--devices, or torchrun's --nproc-per-node).",
                                     local_world=local_world, device_count=torch.cuda.device_count()))
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    elif chosen.type != "cpu":
        raise VisionpathError(tr("several processes train on CUDA GPUs or CPUs, not on {type}; use --device cpu.",
                                 type=chosen.type))
    backend = "nccl" if chosen.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, store=this_start_store(world), rank=rank, world_size=world,
                                timeout=collective_timeout())
    return Processes(rank, world, local_rank, local_world, backend), chosen


def this_start_store(world: int) -> dist.Store | None:
    """torchrun's own key-value store, with this start's keys kept apart from those of earlier starts: torchrun keeps
    its store across restarts (--max-restarts), and PyTorch's default would read the addresses the processes of
    the last start left there, and fail to connect (pytorch/pytorch#167288). None (PyTorch's default) where
    torchrun keeps no store of its own."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world, is_master=False,
                          timeout=collective_timeout())
    return dist.PrefixStore(f"visionpath/start-{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def leave(processes: Processes) -> None:
    """Leave the process group joined by `join` (nothing with one process)."""
    if processes.several and dist.is_initialized():
        dist.destroy_process_group()


def sum_over(processes: Processes, *values: torch.Tensor) -> None:
    """Each tensor replaced, in place, by its sum over all processes."""
    if processes.several:
        for value in values:
            dist.all_reduce(value)


def in_shares(processes: Processes, rows: torch.Tensor, work: Callable[[torch.Tensor], torch.Tensor]
              ) -> torch.Tensor:
    """work(rows), one row of result per row, computed by each process on its share of the rows and gathered: the
    whole result on every process."""
    part = work(rows[processes.shard(len(rows))])
    if not processes.several:
        return part
    sizes = processes.sizes(len(rows))
    padded = torch.zeros((sizes[0], *part.shape[1:]), dtype=part.dtype, device=part.device)  # the first is longest
    padded[: len(part)] = part
    pieces = [torch.empty_like(padded) for _ in range(processes.world)]
    dist.all_gather(pieces, padded)
    return torch.cat([piece[:size] for piece, size in zip(pieces, sizes)])


def agree(processes: Processes, error: str | None) -> None:
    """Every process says whether its part failed; if any did, every process raises the first one's sentence, so a
    bad picture one process met ends the whole run with one sentence instead of a hang."""
    if (first := first_error(processes, error)) is not None:
        raise VisionpathError(first)


def first_error(processes: Processes, error: str | None) -> str | None:
    """The error of the lowest rank that had one (each process gives its own, or None), on every process."""
    return next((e for e in gather_objects(processes, error) if e is not None), None)


def from_main(processes: Processes, value):
    """Rank 0's value (any picklable object), on every process."""
    if not processes.several:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@dataclass
class Launched:
    """How the processes of a launch ended."""
    status: int         # 0, or the exit status of the first process that failed (130: interrupted)
    killed: str | None  # "process 1 of 2 was killed by SIGKILL" when a process died of a signal


def launch(argv: list[str], devices: str | int, env: dict[str, str]) -> Launched:
    """Run `python -m visionpath <argv>` in the processes `devices` asks for, through torchrun's own launcher
    (torch.distributed.launcher), with `env` added to their environment. devices: a number of processes (one per
    GPU, or CPU processes on a machine without one), or the GPUs to use, e.g. "0,2". A process that fails says why
    itself; torchrun's report of it is left out."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    count, visible = parse_devices(devices)
    added = {**env, **({"CUDA_VISIBLE_DEVICES": visible} if visible is not None else {}),
             # torchrun gives each process one CPU thread when it is not told; share the cores out instead
             "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // count)))}
    # torchrun's launcher sets signal handlers and an environment variable in the process that calls it, and leaves
    # them: a notebook's Ctrl-C would then go to a handler of a launch long over. Everything is put back below.
    before = {name: os.environ.get(name) for name in [*added, "TORCHELASTIC_SIGNALS_TO_HANDLE"]}
    handlers = {stop: signal.getsignal(stop) for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    os.environ.update(added)  # the processes inherit this process's environment
    # torchrun's own account of a failure or a Ctrl-C repeats what the processes said, as log lines: quiet here
    reports = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name.startswith("torch.distributed.elastic")]
    for logger in reports:
        logger.disabled = True
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=count, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.2)
    try:
        elastic_launch(config, sys.executable)("-m", "visionpath", *argv)
        return Launched(0, None)
    except ChildFailedError as failed:
        rank, first = failed.get_first_failure()
        if first.exitcode < 0:
            name = signal.Signals(-first.exitcode).name
            return Launched(1, tr("process {rank} of {count} was killed by {signal}", rank=rank, count=count,
                                  signal=name))
        return Launched(first.exitcode, None)
    except SignalException:  # Ctrl-C reached the launcher too: the processes have stopped, each saying so
        return Launched(130, None)
    finally:
        for logger in reports:
            logger.disabled = False
        for stop, handler in handlers.items():
            if handler is not None and threading.current_thread() is threading.main_thread():
                signal.signal(stop, handler)
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def parse_devices(devices: str) -> tuple[int, str | None]:
    """(process count, CUDA_VISIBLE_DEVICES or None) from --devices: 4 or 0,2."""
    text = str(devices).strip()
    if text.isdigit() and int(text) >= 1:
        return int(text), None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 1 and all(p.isdigit() for p in parts) and len(set(parts)) == len(parts):
        return len(parts), ",".join(parts)
    raise VisionpathError(tr("--devices {devices}: give a number of processes (e.g. 4) or the GPUs to use (e.g. "
                             "0,2).",
                             devices=devices))


def everywhere(processes: Processes, work: Callable[[], T]) -> T:
    """work() on every process; an error on any one of them is raised on all (see `agree`)."""
    try:
        result, error = work(), None
    except VisionpathError as e:
        result, error = None, str(e)
    except Exception as e:  # a bug: the others stop with a sentence, this process with its own traceback
        first_error(processes, f"process {processes.rank} failed unexpectedly ({type(e).__name__}: {e}).")
        raise
    agree(processes, error)
    return result


def on_main(processes: Processes, work: Callable[[], T]) -> T:
    """work() on rank 0 alone; its result (or its error) on every process."""
    return from_main(processes, everywhere(processes, work if processes.main else lambda: None))


def gather_objects(processes: Processes, value) -> list:
    """Every process's value (any picklable object), in rank order, on every process."""
    if not processes.several:
        return [value]
    every: list = [None] * processes.world
    dist.all_gather_object(every, value)
    return every


def parallel(processes: Processes, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The module to train: itself, or with several processes wrapped in DistributedDataParallel, whose backward
    averages the gradients of the parameters that train over all processes (so every process takes the same
    step). Made for each stage, after it has frozen what it freezes."""
    if not processes.several:
        return module
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None)


def lost_peer(error: BaseException) -> bool:
    """Whether an error is a collective failing because another process of the run is gone."""
    if isinstance(error, dist.DistError):
        return True
    text = str(error).lower()
    return any(words in text for words in ("connection reset", "connection closed", "broken pipe", "gloo",
                                           "nccl", "timed out"))
