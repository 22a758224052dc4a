"""Benchmark: `visionpath serve` under load on 127.0.0.1, against `predict` on the same model and photos.

    python benchmarks/serve_load.py [--quick]

The model: EfficientNet-Lite0 (offline ImageNet weights) with a head trained on hymenoptera's photos at 224 px, as
`visionpath train` makes it. The photos: hymenoptera's 153 validation photos (JPEGs of many sizes), each request
one photo, as the page sends them.

  predict   `visionpath.predict` over the photos, in this process after a warm-up: pictures/s, decoding included
  serve     `visionpath serve RUN` in its own process; 16 client threads here, each on one keep-alive connection,
            send 2,000 requests between them (200 with --quick) and stop: requests/s, p50/p95/p99 latency, errors,
            and how many pictures the server classified per model call (its /health)

Goal (issue 18): zero errors, and requests/s at least 80% of predict's pictures/s. The clients share the
machine's cores with the server, as a load generator on the same host does.
"""
from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from photo_defaults import hymenoptera_folder
from runner import Bench, main

import visionpath
from visionpath.devices import keep_freed_memory

CLIENTS = 16


def multipart(path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def load(address: str, bodies: list[tuple[bytes, str]], requests: int) -> dict:
    """`requests` POSTs from CLIENTS threads, request i sending photo i mod n: latencies and errors."""
    latencies, errors, lock = [], [], threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        connection = http.client.HTTPConnection(address, timeout=120)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body, content_type = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            try:
                connection.request("POST", "/predict", body, {"Content-Type": content_type})
                response = connection.getresponse()
                answer = json.loads(response.read())
                ok = response.status == 200 and len(answer["predictions"]) == 1
            except (OSError, http.client.HTTPException, ValueError) as e:
                ok, answer = False, repr(e)
                connection.close()
                connection = http.client.HTTPConnection(address, timeout=120)
            with lock:
                (latencies if ok else errors).append(time.perf_counter() - t0 if ok else str(answer)[:200])
        connection.close()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    cut = statistics.quantiles(latencies, n=100)
    return {"requests": requests, "wall_seconds": wall, "requests_per_second": requests / wall,
            "p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * cut[94], "p99_ms": 1000 * cut[98],
            "max_ms": 1000 * max(latencies), "errors": len(errors), "error_examples": errors[:3]}


def get(address: str, path: str) -> dict:
    connection = http.client.HTTPConnection(address, timeout=30)
    connection.request("GET", path)
    return json.loads(connection.getresponse().read())


def serve_load(bench: Bench) -> None:
    keep_freed_memory()
    folder = hymenoptera_folder(bench.tmp)
    trained = bench.train(bench.tmp / "runs", str(folder), "--model", "efficientnet_lite0", "--image-size", "224",
                          "--epochs", "3", "--fine-tune-epochs", "0", data_dir=False)
    run = trained["run"]
    photos = sorted((folder / "val").rglob("*.jpg"))
    requests = 200 if bench.quick else 2000

    visionpath.predict(run, photos[:32])  # warm-up: the first calls pay for allocations
    t0 = time.perf_counter()
    visionpath.predict(run, photos * (1 if bench.quick else 4))
    predict_rate = len(photos) * (1 if bench.quick else 4) / (time.perf_counter() - t0)

    server = subprocess.Popen([sys.executable, "-m", "visionpath", "serve", run, "--port", "0"], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=bench.env(PYTHONUNBUFFERED="1"))
    try:
        line = ""
        while "serving" not in line:
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("visionpath serve did not start")
        address = line.split("http://")[1].split()[0]
        bodies = [multipart(path) for path in photos]
        load(address, bodies, 64)  # warm-up
        before = get(address, "/health")
        result = load(address, bodies, requests)
        after = get(address, "/health")
    finally:
        server.terminate()
        server.wait(30)
    per_call = (after["pictures"] - before["pictures"]) / max(after["batches"] - before["batches"], 1)
    ratio = result["requests_per_second"] / predict_rate
    met = result["errors"] == 0 and ratio >= 0.8
    lines = [f"Lite0 at 224 px (head trained on hymenoptera, `{trained['command']}`), {len(photos)} validation "
             f"photos, one per request, {CLIENTS} clients on keep-alive connections.", "",
             "| | pictures/s | p50 | p95 | p99 | max | errors |", "|---|---|---|---|---|---|---|",
             f"| `predict` (in process, batches of 256, decoding included) | {predict_rate:.1f} | | | | | |",
             f"| `visionpath serve`, {requests:,} requests | {result['requests_per_second']:.1f} | "
             f"{result['p50_ms']:.0f} ms | {result['p95_ms']:.0f} ms | {result['p99_ms']:.0f} ms | "
             f"{result['max_ms']:.0f} ms | {result['errors']} |", "",
             f"- serve / predict: {ratio:.2f} (goal ≥ 0.80, zero errors): {'met' if met else 'NOT met'}",
             f"- the server classified {per_call:.1f} pictures per model call on average (requests from concurrent "
             "clients batched together)",
             "- the 16 client threads run on the same cores as the server"]
    bench.write("serve_load", "visionpath serve under load: requests/s and latency against predict's pictures/s",
                lines, {"predict_pictures_per_second": predict_rate, "serve": result, "ratio": ratio, "met": met,
                        "pictures_per_model_call": per_call, "train": {k: trained[k] for k in ("command",
                                                                                                 "wall_seconds")}})


if __name__ == "__main__":
    main(__doc__, {"serve_load": serve_load})
