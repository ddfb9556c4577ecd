"""The production recipe's proxy (issue 15 #5): slow clients do not take the site down.

gunicorn's sync workers serve one connection at a time, from its first byte to
its last: a few clients sending their headers a line at a time hold every
worker. Production puts nginx in front (compose.yaml, deploy/nginx/booking.conf),
which reads each request whole before gunicorn sees it. Here that very server
block runs in Debian's nginx, as an unprivileged foreground process, in front of
a real gunicorn with the production sync workers.

Behaviour, not a stopwatch: while 50 slow clients are still trickling their
headers (each would need a minute to finish), a normal request is answered. The
only deadline is the client's 10 s read timeout, far beyond what the request
needs (milliseconds), stated as a generous bound and not measured.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import LiveServer, free_port

ROOT = Path(__file__).resolve().parent.parent
SERVER_BLOCK = ROOT / "deploy" / "nginx" / "booking.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK)
                                  else None)
GENEROUS = 10.0   # seconds a normal request may take here: a bound, not a measurement

# What a test needs around the shipped server block: its own prefix, pid, logs
# and temp paths, one worker, and the block itself, included unchanged but for
# where it listens and where gunicorn is.
WRAPPER = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/booking.conf;
}}
"""


class Nginx:
    """Debian's nginx in the foreground with the production server block, in front of
    gunicorn on `upstream_port`; as `nobody` when the tests run as root."""

    def __init__(self, upstream_port: int):
        self.dir = Path(tempfile.mkdtemp(prefix="booking-nginx-", dir="/tmp"))
        self.port = free_port()
        block = SERVER_BLOCK.read_text()
        for shipped, here in (("server app:8000;", f"server 127.0.0.1:{upstream_port};"),
                              ("listen 80;", f"listen 127.0.0.1:{self.port};")):
            assert block.count(shipped) == 1, f"{SERVER_BLOCK} no longer says {shipped!r}"
            block = block.replace(shipped, here)
        (self.dir / "booking.conf").write_text(block)
        (self.dir / "nginx.conf").write_text(WRAPPER.format(dir=self.dir))
        command = [NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                   "-e", str(self.dir / "error.log"), "-g", "daemon off;"]
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for path in [self.dir, *self.dir.iterdir()]:
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            command = ["runuser", "-u", "nobody", "--", *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not come up: {self.error_log()}")

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        # Our own process group (start_new_session): runuser, the nginx master, its worker.
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


class SlowClients:
    """`count` connections that send a request's headers one line every half second
    for `lines` lines (a minute by default) and never finish them."""

    def __init__(self, port: int, count: int, lines: int = 120):
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=5)
                        for _ in range(count)]
        self.lines_sent = 0
        self.stopping = threading.Event()
        for sock in self.sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        self.thread = threading.Thread(target=self._trickle, args=(lines,), daemon=True)
        self.thread.start()

    def _trickle(self, lines: int) -> None:
        while self.lines_sent < lines and not self.stopping.wait(0.5):
            for sock in self.sockets:
                try:
                    sock.sendall(f"X-Slow-{self.lines_sent}: still typing\r\n".encode())
                except OSError:
                    pass
            self.lines_sent += 1

    def still_waiting(self) -> int:
        """How many have had no answer yet and are still open."""
        waiting = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                sock.recv(1)              # an answer, or b"": closed
            except BlockingIOError:       # nothing yet, still open
                waiting += 1
            except OSError:
                pass
            finally:
                sock.setblocking(True)
        return waiting

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.05)


@pytest.fixture
def gunicorn(database_url, tmp_path):
    """Production's worker class (sync), two workers, one trusted proxy."""
    server = LiveServer(database_url, tmp_path, workers=2, extra_env={
        "WORKER_CLASS": "sync", "TRUSTED_PROXIES": "1"})
    yield server
    server.stop()


@pytest.mark.skipif(NGINX is None, reason="Debian's nginx is not installed (make nginx)")
def test_through_the_proxy_50_slow_clients_do_not_keep_a_normal_request_waiting(gunicorn):
    nginx = Nginx(gunicorn.port)
    slow = None
    try:
        slow = SlowClients(nginx.port, 50)
        wait_for(lambda: slow.lines_sent >= 2)           # every one is mid-headers now
        with urllib.request.urlopen(f"http://127.0.0.1:{nginx.port}/healthz",
                                    timeout=GENEROUS) as response:
            assert response.status == 200 and b'"ok"' in response.read()
        # Answered while all 50 were still sending their headers.
        assert slow.lines_sent < 120 and slow.still_waiting() == 50
        # And the app sees who asked (X-Forwarded-For from the proxy, TRUSTED_PROXIES=1).
        with urllib.request.urlopen(f"http://127.0.0.1:{nginx.port}/login",
                                    timeout=GENEROUS) as response:
            assert response.status == 200
    finally:
        if slow is not None:
            slow.close()
        nginx.stop()


def test_without_the_proxy_four_slow_clients_hold_both_sync_workers(gunicorn):
    """Why the recipe has nginx: gunicorn alone, two sync workers, four slow clients."""
    slow = SlowClients(gunicorn.port, 4)
    try:
        wait_for(lambda: slow.lines_sent >= 2)
        with pytest.raises(OSError):        # socket.timeout: nobody is free to answer
            urllib.request.urlopen(f"{gunicorn.url}/healthz", timeout=2).close()
        assert slow.still_waiting() >= 2
    finally:
        slow.close()
    # Once they give up, the site answers again.
    wait_for(lambda: _answers(gunicorn.url + "/healthz"))


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=GENEROUS) as response:
            return response.status == 200
    except OSError:
        return False
