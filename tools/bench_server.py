"""Load test of ``versioned serve``: a cached ``resolve`` and a 304, per backend.

``python tools/bench_server.py [--requests N] [--connections C]`` (or ``tools/bench.py
--server-only``) fills a repository (local in a scratch folder; S3 + DynamoDB on moto's
server, which it starts), runs the real ``versioned serve`` command on a free loopback
port, and drives it with the load tool below:

- latency: one keep-alive connection sends N requests one after another; p50 and p99 of
  the round trip (client included);
- throughput: C keep-alive connections, one thread each, N requests in all; requests/s.

Scenarios: ``resolve`` (``GET …/aliases/prod/resolve?key=user-K``, 1,000 keys, answered
from the resolver's cache), ``304 alias download`` (``GET …/aliases/prod/download?key=…``
with the current ETag: answered from the cache too), and ``304 version download`` (``GET
…/versions/1/download`` with its ETag: one read of the version's record per request).
Every loop is bounded by its request count; nothing but 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tools.moto_server import moto_server

KEYS = 1000
TIMEOUT = 30.0
_SERVING = re.compile(r"serving .* at http://127\.0\.0\.1:(\d+)/")


def fill(uri: str) -> None:
    """``model`` v1..v2 and ``prod`` at 80 % v1 / 20 % v2."""
    from versioned import open_repository

    repo: Any = open_repository(uri, create=True)
    if hasattr(repo, "aws_region"):
        repo.bootstrap()
    for content in (b"model one" * 1000, b"model two" * 1000):
        repo.put_artifact("model", content)
        repo.publish_artifact_version("model")
    repo.put_alias("model", "prod", 1, 2, 20)


@contextmanager
def served(uri: str, log: Path) -> Iterator[int]:
    """``versioned serve`` on a free loopback port (access log on, into ``log``)."""
    command = [sys.executable, "-c", "from versioned.cli import main; raise SystemExit(main())"]
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*command, "--repo", uri, "serve", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                found = _SERVING.search(log.read_text())
                if found:
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError(f"versioned serve did not start: {log.read_text()}")
            yield int(found.group(1))
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def etag(port: int, path: str) -> str:
    """The ETag the server gives ``path`` now."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        return answer.getheader("ETag") or ""
    finally:
        connection.close()


def run(port: int, paths: list[str], headers: dict[str, str], status: int) -> list[float]:
    """Send each path once on one keep-alive connection; the round trips in seconds."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    samples = []
    try:
        for path in paths:
            start = time.perf_counter()
            connection.request("GET", path, headers=headers)
            answer = connection.getresponse()
            answer.read()
            samples.append(time.perf_counter() - start)
            if answer.status != status:
                raise RuntimeError(f"GET {path}: {answer.status}, expected {status}")
    finally:
        connection.close()
    return samples


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(
    port: int, paths: list[str], headers: dict[str, str], status: int, connections: int
) -> dict[str, float]:
    """Latency on one connection, then requests/s on ``connections`` at once."""
    run(port, paths[: max(1, len(paths) // 10)], headers, status)  # warm-up
    latency = run(port, paths, headers, status)
    shares = [paths[i::connections] for i in range(connections)]
    failures: list[BaseException] = []

    def worker(part: list[str]) -> None:
        try:
            run(port, part, headers, status)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(part,)) for part in shares]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    return {
        "p50_ms": percentile(latency, 0.50) * 1000,
        "p99_ms": percentile(latency, 0.99) * 1000,
        "requests_per_s": len(paths) / elapsed,
    }


def bench_backend(uri: str, requests: int, connections: int, scratch: Path) -> dict[str, Any]:
    """The three scenarios against one repository."""
    fill(uri)
    alias = "/api/artifacts/model/aliases/prod"
    keyed = [f"?key=user-{n % KEYS}" for n in range(requests)]
    with served(uri, scratch / "serve.log") as port:
        results = {
            "resolve (cached)": measure(
                port, [f"{alias}/resolve{k}" for k in keyed], {}, 200, connections
            ),
        }
        one = f"{alias}/download?key=user-1"
        results["304 alias download"] = measure(
            port, [one] * requests, {"If-None-Match": etag(port, one)}, 304, connections
        )
        version = "/api/artifacts/model/versions/1/download"
        results["304 version download"] = measure(
            port, [version] * requests, {"If-None-Match": etag(port, version)}, 304, connections
        )
    return results


def _wrk(url: str, seconds: int) -> float:
    """Requests/s that ``wrk`` (2 threads, 4 connections) gets from ``url``."""
    out = subprocess.run(
        ["wrk", "-t2", "-c4", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None or "Non-2xx" in out:
        raise RuntimeError(f"wrk failed on {url}: {out}")
    return float(found.group(1))


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_full_download(scratch: Path, rounds: int = 3, seconds: int = 5) -> dict[str, Any]:
    """A 1 MiB local version downloaded over 4 connections (``wrk``), by turns with its
    anchors serving the same bytes from a file: nginx (Debian's, one worker, sendfile)
    and Python's ``http.server``. Skipped (None) without ``wrk`` and ``nginx`` on PATH."""
    import shutil
    import urllib.request

    if not (shutil.which("wrk") and shutil.which("nginx")):
        return {"skipped": "needs wrk and nginx (apt-get install wrk nginx)"}
    from versioned import open_repository

    content = os.urandom(1024 * 1024)
    repo: Any = open_repository((scratch / "download-repo").as_uri(), create=True)
    repo.put_artifact("model", content)
    repo.publish_artifact_version("model")
    www = scratch / "www"
    www.mkdir()
    (www / "one.bin").write_bytes(content)
    nginx_port, http_port = _free_port(), _free_port()
    conf = scratch / "nginx.conf"
    conf.write_text(
        f"user root; worker_processes 1; daemon off; pid {scratch}/nginx.pid; "
        f"error_log {scratch}/nginx.err; events {{ worker_connections 64; }} "
        f"http {{ access_log {scratch}/nginx.access; sendfile on; "
        f"server {{ listen 127.0.0.1:{nginx_port}; root {www}; }} }}"
    )
    anchors = {
        "nginx (1 worker, sendfile)": subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(scratch)], stderr=subprocess.DEVNULL
        ),
        "python -m http.server": subprocess.Popen(
            [sys.executable, "-m", "http.server", str(http_port), "--bind", "127.0.0.1"],
            cwd=www,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    }
    urls = {
        "nginx (1 worker, sendfile)": f"http://127.0.0.1:{nginx_port}/one.bin",
        "python -m http.server": f"http://127.0.0.1:{http_port}/one.bin",
    }
    samples: dict[str, list[float]] = {"versioned serve": [], **{name: [] for name in urls}}
    loads = [os.getloadavg()[0]]
    try:
        time.sleep(1.0)
        for url in urls.values():
            if urllib.request.urlopen(url, timeout=TIMEOUT).read() != content:
                raise RuntimeError(f"{url} does not serve the content")
        path = "/api/artifacts/model/versions/1/download"
        with served((scratch / "download-repo").as_uri(), scratch / "serve-download.log") as port:
            ours = f"http://127.0.0.1:{port}{path}"
            if urllib.request.urlopen(ours, timeout=TIMEOUT).read() != content:
                raise RuntimeError("versioned serve does not serve the content")
            for _ in range(rounds):
                samples["versioned serve"].append(_wrk(ours, seconds))
                for name, url in urls.items():
                    samples[name].append(_wrk(url, seconds))
                loads.append(os.getloadavg()[0])
    finally:
        for process in anchors.values():
            process.terminate()
            process.wait()
    medians = {name: sorted(values)[len(values) // 2] for name, values in samples.items()}
    return {**medians, "load": (min(loads), max(loads)), "rounds": rounds}


def bench_server(requests: int = 2000, connections: int = 4) -> dict[str, Any]:
    """Both backends; the figures by backend and scenario."""
    figures: dict[str, Any] = {"requests": requests, "connections": connections}
    with tempfile.TemporaryDirectory(prefix="versioned-bench-server-") as folder:
        scratch = Path(folder)
        figures["local"] = bench_backend(
            (scratch / "repo").as_uri(), requests, connections, scratch
        )
        figures["1 MiB download"] = bench_full_download(scratch)
        with moto_server():
            uri = f"s3://bench-serve-{os.getpid()}/artifacts?table=bench-serve&region=us-east-1"
            figures["s3 (moto)"] = bench_backend(uri, requests, connections, scratch)
    return figures


def show_server(figures: dict[str, Any]) -> None:
    """Print the figures as a table."""
    print(
        f"\nversioned serve ({figures['requests']} requests per scenario; "
        f"throughput over {figures['connections']} connections; latency on one)"
    )
    print(f"  {'backend':12} {'scenario':24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for backend in ("local", "s3 (moto)"):
        for scenario, row in figures[backend].items():
            print(
                f"  {backend:12} {scenario:24} {row['requests_per_s']:8.0f} "
                f"{row['p50_ms']:8.3f} {row['p99_ms']:8.3f}"
            )
    full = figures.get("1 MiB download", {})
    if "skipped" in full:
        print(f"  1 MiB download beside nginx: skipped ({full['skipped']})")
    elif full:
        low, high = full["load"]
        print(
            f"  1 MiB local version downloaded over 4 connections (wrk), requests/s, median of "
            f"{full['rounds']} rounds by turns (load average {low:.1f}-{high:.1f}):"
        )
        for name in ("versioned serve", "nginx (1 worker, sendfile)", "python -m http.server"):
            print(f"    {name:28} {full[name]:8.0f}")
        nginx = full["nginx (1 worker, sendfile)"]
        print(f"    versioned serve / nginx: {full['versioned serve'] / nginx:.2f} (target >= 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per scenario (bounded)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    figures = bench_server(max(10, options.requests), max(1, options.connections))
    show_server(figures)
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
