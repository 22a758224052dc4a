"""Where a study's trials live: Optuna's database storage, a SQLite file in the study folder or a database server
(PostgreSQL) that processes on several machines share. Opened with a heartbeat, so that a trial whose machine
stopped answering is failed by the others (and run again when asked); each way of not reaching the server is one
sentence, said before any trial; and a trial is claimed through the database itself, so that machines sharing a
study start exactly --trials between them.
"""
from __future__ import annotations

import hashlib
import re
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from ..errors import VisionpathError
from ..extras import require
from ..files import locked
from ..i18n import tr

# A running trial's process says it is alive every HEARTBEAT seconds; one silent for GRACE_BEATS of them is failed
# by whichever process next claims a trial: its machine stopped, or lost the network. A minute keeps the database's
# load negligible, and a lost trial is noticed within minutes, a fraction of a trial's time.
HEARTBEAT = 60
GRACE_BEATS = 3


def optuna_module():
    """Optuna, or one sentence saying how to install it."""
    optuna = require("optuna", "tune", "visionpath tune", package="Optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # visionpath says what happens: a line a trial
    return optuna


def open_storage(url: str, heartbeat: int = HEARTBEAT, retries: int = 0):
    """Optuna's RDBStorage for `url`, with the heartbeat. retries: how many times a trial failed by the heartbeat
    is run again (with the same settings, by any machine); 0: never. A driver that is missing, a server that does
    not answer, a password it refuses or a database it does not have: one sentence each."""
    optuna = optuna_module()
    from sqlalchemy.exc import SQLAlchemyError  # Optuna's database layer, installed with it
    connect_args = {}
    if url.startswith("sqlite:"):  # processes sharing one file wait their turn instead of failing
        connect_args = {"timeout": 60}
    elif url.startswith(("postgresql:", "postgresql+psycopg:")):
        require("psycopg", "postgres", tr("a study stored in PostgreSQL"), package="psycopg")
        connect_args = {"connect_timeout": 10}  # a host that does not answer: said in seconds, not minutes
    retry = optuna.storages.RetryFailedTrialCallback(max_retry=retries) if retries else None
    try:
        with quiet_optuna():
            return optuna.storages.RDBStorage(
                url, engine_kwargs={"connect_args": connect_args, "pool_pre_ping": True},
                heartbeat_interval=heartbeat, grace_period=heartbeat * GRACE_BEATS, failed_trial_callback=retry)
    except (ImportError, ValueError, RuntimeError, SQLAlchemyError) as e:
        raise VisionpathError(unreachable(url, e)) from None


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's warnings that its heartbeat is experimental and meant for its own optimize loop: this study uses it,
    beating itself (`beating`); a learner need not read them on every trial."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna_module().exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
        yield


def unreachable(url: str, error: Exception) -> str:
    """The sentence for a storage that could not be opened, from the driver's own message."""
    said = str(getattr(error, "orig", None) or error)
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 5432}" if parts.hostname else url
    known = [
        (r"password authentication failed|authentication failed",
         tr("the database server at {where} refused the password of user {user}; check the user and password in "
            "--storage.", where=where, user=parts.username)),
        (r"database \"[^\"]+\" does not exist",
         tr("the database server at {where} has no database {database}; create it first (createdb {database}), or "
            "name one it has in --storage.", where=where, database=parts.path.lstrip("/"))),
        (r"Connection refused",
         tr("nothing answers at {where}: the database server is not running there, or does not listen on that "
            "address; start it, or correct --storage.", where=where)),
        (r"timeout expired|timed out|No route to host|Network is unreachable|could not translate host name",
         tr("no answer from {where}: the machine cannot be reached from here; check the address in --storage and "
            "the network.", where=where)),
    ]
    for pattern, sentence in known:
        if re.search(pattern, said, re.I):
            return sentence
    first = said.strip().splitlines()[0] if said.strip() else type(error).__name__
    return tr("cannot open the study storage {storage}: {reason}", storage=hidden_password(url), reason=first)


def hidden_password(url: str) -> str:
    """The URL as it may be printed: its password replaced by ***."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


@contextmanager
def claiming(storage, url: str, study_name: str, folder: Path) -> Iterator[None]:
    """Held while a process counts a study's trials and claims the next: on a PostgreSQL server, an advisory lock
    of the study in the database itself, which every machine sharing it waits on; for a SQLite file, the study
    folder's lock (the processes that share a file share a machine)."""
    if not url.startswith("postgresql"):
        with locked(folder):
            yield
        return
    from sqlalchemy import text
    key = int.from_bytes(hashlib.sha256(f"visionpath:{study_name}".encode()).digest()[:8], "big", signed=True)
    with storage.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


@contextmanager
def beating(storage, trial_id: int) -> Iterator[None]:
    """The heartbeat of a running trial, from a thread, every `storage`'s interval until the block ends. (Optuna
    beats only inside its own optimize loop; this study asks and tells.)"""
    interval = storage.get_heartbeat_interval()
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # the network is down for a moment: the next beat may pass; the trial goes on
                pass
    storage.record_heartbeat(trial_id)
    thread = threading.Thread(target=beat, name="visionpath-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
