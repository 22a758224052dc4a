"""Hosts that share nothing but a network, and a real PostgreSQL server, for the tests of several machines.

Each host is a Linux network namespace (`ip netns add`) with one link, a veth pair whose other end is on a bridge
in a namespace of its own: the hosts reach each other at 10.<n>.0.<k>, and nothing else (no route out, and the
machine's own interfaces untouched). Commands run in a host with `ip netns exec`. Everything is removed on the
way out. Made by the tests themselves; skipped, with the reason, where namespaces cannot be made (not root).
"""
from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

_made = itertools.count()


def cannot_make_hosts() -> str | None:
    """Why this machine cannot make network namespaces, or None when it can."""
    if shutil.which("ip") is None:
        return "needs iproute2's ip (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    probe = f"vp-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def ip(*args: str, netns: str | None = None) -> None:
    command = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")


@dataclass
class Host:
    name: str       # the network namespace, and the host's name
    address: str    # its address on the test network
    link: str       # its link's end on the bridge (down: the host is cut off)
    network: str    # the namespace of the bridge

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run inside this host: its network, and its own host name (a UTS namespace), so that what a
        program records of the machine it runs on tells the hosts apart."""
        return ["ip", "netns", "exec", self.name, "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"',
                self.name, *argv]

    def cut_off(self) -> None:
        """Take the host's link down: packets to and from it are lost, as when a cable is pulled."""
        ip("link", "set", self.link, "down", netns=self.network)


@contextmanager
def network_hosts(count: int) -> Iterator[list[Host]]:
    """`count` hosts on one bridge, 10.<n>.0.1, 10.<n>.0.2, ...; removed afterwards."""
    n = 200 + next(_made) % 50
    tag = f"vp{os.getpid() % 10000}x{n}"
    network = f"{tag}-net"
    hosts: list[Host] = []
    try:
        ip("netns", "add", network)
        ip("link", "add", "br0", "type", "bridge", netns=network)
        ip("link", "set", "br0", "up", netns=network)
        for k in range(1, count + 1):
            host = Host(f"{tag}-h{k}", f"10.{n}.0.{k}", f"h{k}", network)
            ip("netns", "add", host.name)
            hosts.append(host)
            ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", netns=network)
            ip("link", "set", "eth0", "netns", host.name, netns=network)
            ip("link", "set", host.link, "master", "br0", netns=network)
            ip("link", "set", host.link, "up", netns=network)
            ip("addr", "add", f"{host.address}/24", "dev", "eth0", netns=host.name)
            ip("link", "set", "eth0", "up", netns=host.name)
            ip("link", "set", "lo", "up", netns=host.name)
        for host in hosts:  # each host's name resolves, in every host, as DNS would say it (`ip netns exec` puts
            # /etc/netns/<name>/hosts over /etc/hosts)
            folder = Path("/etc/netns") / host.name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "hosts").write_text("127.0.0.1 localhost\n" + "".join(f"{h.address} {h.name}\n" for h in hosts))
        yield hosts
    finally:
        for host in hosts:
            subprocess.run(["ip", "netns", "del", host.name], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / host.name, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", network], capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    password: str
    database: str

    def url(self, password: str | None = None, port: int | None = None) -> str:
        return (f"postgresql://{self.user}:{self.password if password is None else password}@{self.host}:"
                f"{port or self.port}/{self.database}")


def cannot_start_postgres() -> str | None:
    """Why no PostgreSQL server can be started here, or None."""
    if _pg_bin("initdb") is None:
        return "needs PostgreSQL's server (apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "the server refuses to run as root, and runuser is missing"
    return None


def _pg_bin(name: str) -> str | None:
    """A PostgreSQL program: Debian keeps the server's under /usr/lib/postgresql/<version>/bin."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else shutil.which(name)


@contextmanager
def postgres_server(host: Host | None = None, address: str = "127.0.0.1") -> Iterator[Postgres]:
    """A PostgreSQL server in a temporary folder (as the postgres user where this is root: the server refuses root),
    listening on `host`'s address (or `address` on this machine), with a password-protected user and a database;
    stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="vp-pg-"))
    server = Postgres(host.address if host else address, free_port(), "visionpath", "secret-words", "studies")
    as_server = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    inside = host.command if host else (lambda argv: argv)
    (folder / "password").write_text(server.password)
    if as_server:
        shutil.chown(folder, "postgres")
        shutil.chown(folder / "password", "postgres")
    data = folder / "data"
    try:
        subprocess.run(as_server + [_pg_bin("initdb"), "-D", str(data), "-U", server.user, "--pwfile",
                                    str(folder / "password"), "--auth-host=scram-sha-256", "--auth-local=trust",
                                    "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
        with open(data / "pg_hba.conf", "a") as hba:  # the test network's hosts too, with the password
            hba.write("host all all 0.0.0.0/0 scram-sha-256\n")
        subprocess.run(inside(as_server + [_pg_bin("pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                                           f"-h {server.host} -p {server.port} -k {folder}", "start"]),
                       check=True, capture_output=True)
        subprocess.run(inside(as_server + [_pg_bin("createdb"), "-h", str(folder), "-p", str(server.port), "-U",
                                           server.user, server.database]), check=True, capture_output=True)
        yield server
    finally:
        subprocess.run(inside(as_server + [_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def wait_for(condition, seconds: float, step: float = 0.1) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(step)
    return condition()
