"""``versioned serve`` as people run it: the command starts, logs each request in the
Combined Log Format, stops on Ctrl-C, refuses a public address without a token, and the
rest of the command line never loads the server's packages."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.cli.conftest import child_environment, versioned_command
from tests.helpers import LocalBackend
from tests.server.conftest import fill
from tests.server.process import serving
from versioned.cli import main

pytestmark = pytest.mark.timeout(180)

#: host ident user [time] "request" status bytes "referer" "user-agent" seconds
QUOTED = r'(?:[^"\\]|\\.)*'  # backslash escapes inside, as nginx writes them
COMBINED = re.compile(
    r"^(?P<host>\S+) - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
    rf'"(?P<request>{QUOTED})" (?P<status>\d{{3}}) (?P<size>\d+|-) "(?P<referer>{QUOTED})" '
    rf'"(?P<agent>{QUOTED})" \d+\.\d{{4}}$'
)


def test_serve_starts_answers_logs_and_stops(local_backend: LocalBackend) -> None:
    fill(local_backend.repo)
    with serving(local_backend.uri) as served:
        assert served.url.startswith("http://127.0.0.1:")
        assert "read-only" in served.stderr()
        health = httpx.get(served.url + "healthz", headers={"User-Agent": 'probe "1"'})
        assert health.status_code == 200
        missing = httpx.get(served.url + "api/artifacts/model/aliases/nope?x=1")
        assert missing.status_code == 404
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "nope" not in served.stderr():
            time.sleep(0.05)
        logged = [m for m in map(COMBINED.match, served.lines) if m]
        assert len(logged) >= 2, served.stderr()
        first = logged[0]
        assert first["host"] == "127.0.0.1"
        assert first["request"] == "GET /healthz HTTP/1.1"
        assert first["status"] == "200"
        assert first["agent"] == 'probe \\"1\\"'
        assert any(
            m["request"] == "GET /api/artifacts/model/aliases/nope?x=1 HTTP/1.1"
            and m["status"] == "404"
            for m in logged
        )
        code = served.stop()
    assert code == 130  # the command line's code for Ctrl-C
    assert "Traceback" not in served.stderr()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_line_of_a_download_in_flight_at_a_stop_is_written(
    local_backend: LocalBackend, stop: int
) -> None:
    """Lines are logged in batches after their requests (server/access_log.py): the last
    ones must still be written when the server stops, also on SIGTERM, which uvicorn
    re-raises once its requests are done, ending the process without waiting for threads."""
    repo = local_backend.repo
    repo.put_artifact("big", os.urandom(8 * 1024 * 1024))
    repo.publish_artifact_version("big")
    path = "/api/artifacts/big/versions/1/download"
    with serving(local_backend.uri) as served:
        with (
            httpx.Client(base_url=served.url, timeout=30) as client,
            client.stream("GET", path) as answer,
        ):
            pieces = answer.iter_raw(64 * 1024)
            first = next(pieces)
            served.process.send_signal(stop)  # while the download is in flight
            time.sleep(0.3)
            received = len(first) + sum(len(piece) for piece in pieces)
        served.process.wait(timeout=30)
        served.stop()
        assert received == 8 * 1024 * 1024
        assert f'"GET {path} HTTP/1.1" 200 {8 * 1024 * 1024} ' in served.stderr()


def test_serve_takes_the_token_from_the_environment(local_backend: LocalBackend) -> None:
    fill(local_backend.repo)
    env = {"VERSIONED_SERVER_TOKEN": "from-env"}
    with serving(local_backend.uri, env=env) as served:
        assert "writes need a token: default" in served.stderr()
        url = served.url + "api/artifacts/model/aliases/prod"
        body = {"version": 2, "expected_revision": 3}
        refused = httpx.put(url, json=body, headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401
        done = httpx.put(url, json=body, headers={"Authorization": "Bearer from-env"})
        assert done.status_code == 200
    assert local_backend.repo.get_alias("model", "prod").version == "2"


def test_serve_quiet_logs_no_access(local_backend: LocalBackend) -> None:
    fill(local_backend.repo)
    with serving(local_backend.uri, "--quiet", "--token", "t") as served:
        assert httpx.get(served.url + "healthz").status_code == 200
        time.sleep(0.3)
        assert not any(COMBINED.match(line) for line in served.lines)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])
def test_serve_refuses_a_public_address_without_a_token(
    local_backend: LocalBackend, host: str
) -> None:
    fill(local_backend.repo)
    done = subprocess.run(
        [versioned_command(), "--repo", local_backend.uri, "serve", "--host", host, "--port", "0"],
        capture_output=True,
        text=True,
        env=child_environment({"VERSIONED_SERVER_TOKEN": ""}),
        timeout=120,
    )
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr
    assert "--token" in done.stderr
    assert "Traceback" not in done.stderr


def test_other_commands_never_import_the_server_packages(local_backend: LocalBackend) -> None:
    fill(local_backend.repo)
    probe = (
        "import contextlib, io, json, sys\n"
        "from versioned.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    for argv in json.loads(sys.argv[1]):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "heavy = ('starlette', 'uvicorn', 'jinja2', 'httpx', 'versioned.server')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    repo = ["--repo", local_backend.uri]
    commands = [["--help"], [*repo, "names"], [*repo, "alias", "list", "model"]]
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_serve_help_does_not_import_them_either() -> None:
    probe = (
        "import sys\n"
        "from versioned.cli import main\n"
        "try:\n"
        "    main(['serve', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LOADED', [m for m in sys.modules if m.startswith(('starlette', 'uvicorn'))])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert "--token" in done.stdout
    assert "LOADED []" in done.stdout


def test_serve_without_the_extra_says_how_to_install_it(
    local_backend: LocalBackend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill(local_backend.repo)
    for module in [m for m in sys.modules if m.startswith("versioned.server")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    code = main(["--repo", local_backend.uri, "serve", "--port", "0"])
    assert code == 1
    said = capsys.readouterr().err
    assert "the server extra" in said
    assert "pip install '.[server]'" in said


def test_answers_with_a_body_do_not_wait_for_nagle(local_backend: LocalBackend) -> None:
    """The socket is bound as TCP so that asyncio sets TCP_NODELAY: with Nagle on, each
    answer with a body waited ~40 ms for the client's delayed ACK."""
    import http.client

    from versioned.server.run import bind

    probe = bind("127.0.0.1", 0)
    assert probe.proto == socket.IPPROTO_TCP
    probe.close()
    fill(local_backend.repo)
    with serving(local_backend.uri, "--quiet") as served:
        port = int(served.url.rstrip("/").rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rounds = []
        for _ in range(21):
            start = time.perf_counter()
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            rounds.append(time.perf_counter() - start)
        connection.close()
    assert sorted(rounds)[10] < 0.030  # ~40 ms each with Nagle


def _status_for_host(url: str, host: str) -> tuple[int, bytes]:
    address, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=30) as conn:
        request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        conn.sendall(request.encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_on_loopback_only_loopback_host_names_are_answered(local_backend: LocalBackend) -> None:
    """DNS rebinding: a page from evil.example that comes to resolve to 127.0.0.1 sends
    ``Host: evil.example``; the server refuses it."""
    fill(local_backend.repo)
    with serving(local_backend.uri, "--quiet", "--allow-host", "artifacts.internal") as served:
        port = served.url.rstrip("/").rsplit(":", 1)[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "[::1]", "artifacts.internal"):
            assert _status_for_host(served.url, host)[0] == 200, host
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", ""):
            status, body = _status_for_host(served.url, host)
            assert status == 400, host
            assert json.loads(body)["error"]["kind"] == "BadHost"
