"""One process of a torchrun launch in tests/test_distributed.py: runs `visionpath ARGS` as `python -m visionpath`
would, after arranging what the test asks for in the environment:

    WRITES=PREFIX            every file this process renames into place or folder it makes is listed in PREFIX-<rank>
    UNREADABLE_ON_RANK=R     process R cannot read the first picture it decodes (a file damaged on one machine);
                             each process then has its own picture cache, as on machines of their own
    STOP_AFTER_EPOCH=N       every process is interrupted once epoch N+1 has been trained (so N epochs are saved)
    DIE_AFTER_EPOCH=N        on torchrun's first start, process 1 dies (exit status 1) once epoch N+1 has been
                             trained; after a restart (--max-restarts) nothing happens
"""
import os
import sys

rank = int(os.environ["RANK"])

if "WRITES" in os.environ:
    log = open(f"{os.environ['WRITES']}-{rank}", "a")
    real_replace, real_mkdir = os.replace, os.mkdir

    def logged_replace(source, target, *args, **kwargs):
        real_replace(source, target, *args, **kwargs)
        log.write(f"{target}\n")
        log.flush()

    def logged_mkdir(path, *args, **kwargs):  # logged when it made a folder (not when one was there)
        real_mkdir(path, *args, **kwargs)
        log.write(f"{path}\n")
        log.flush()

    os.replace, os.mkdir = logged_replace, logged_mkdir

from visionpath import cli  # noqa: E402  (after the patches above, which it must see)
from visionpath.training import loop  # noqa: E402  (whose fit calls record_epoch)
from visionpath.data import folder  # noqa: E402

if "UNREADABLE_ON_RANK" in os.environ:
    os.environ["VISIONPATH_HOME"] += f"-machine-{rank}"
if os.environ.get("UNREADABLE_ON_RANK") == str(rank):
    real_load_images = folder.load_images

    damaged = []

    def load_images_with_one_bad(paths, *args, **kwargs):
        decoded = real_load_images(paths, *args, **kwargs)
        if paths and not damaged:
            damaged.append(paths[0])
            decoded[0] = f"{paths[0]}: cannot identify image file (damaged on this machine)"
        return decoded

    folder.load_images = load_images_with_one_bad

if "STOP_AFTER_EPOCH" in os.environ:
    real_record_epoch = loop.record_epoch

    def record_then_stop(state, epoch, *args, **kwargs):
        if epoch > int(os.environ["STOP_AFTER_EPOCH"]):
            raise KeyboardInterrupt
        return real_record_epoch(state, epoch, *args, **kwargs)

    loop.record_epoch = record_then_stop

if "DIE_AFTER_EPOCH" in os.environ and rank == 1 and os.environ["TORCHELASTIC_RESTART_COUNT"] == "0":
    real_record = loop.record_epoch

    def record_then_die(state, epoch, *args, **kwargs):
        if epoch > int(os.environ["DIE_AFTER_EPOCH"]):
            os._exit(1)
        return real_record(state, epoch, *args, **kwargs)

    loop.record_epoch = record_then_die

sys.exit(cli.main(sys.argv[1:]))
