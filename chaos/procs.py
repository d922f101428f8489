"""The stack's processes: their commands (from one place), each started in its own process group with its log in a
file, killed with SIGKILL as a whole group, and watched by a supervisor that restarts a process that died on its
own (as compose's `restart: unless-stopped` would) and records that exit as a crash."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each process prints once it serves (the web is checked over HTTP instead).
READY_LINES = {"worker": re.compile(r"\bready\.?$", re.M), "beat": re.compile(r"beat: Starting", re.M)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def commands(port: int, venv: str, procfile: Path = ROOT / "Procfile") -> dict[str, str]:
    """web, worker and beat as the project runs them: the Procfile when there is one, else `make show-commands`."""
    if procfile.exists():
        text = procfile.read_text()
    else:
        text = subprocess.run(
            ["make", "-s", "--no-print-directory", "show-commands", f"PORT={port}", f"VENV={venv}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    found = {}
    for line in text.splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() in ("web", "worker", "beat"):
            found[name.strip()] = command.strip()
    missing = {"web", "worker", "beat"} - found.keys()
    if missing:
        raise SystemExit(f"chaos: no command for {sorted(missing)} in the Procfile / make show-commands")
    return found


@dataclass
class Proc:
    """One supervised process group. `wanted` is whether it should be running; the driver clears it while a fault
    keeps the process down, the supervisor restarts any wanted process that is not running."""

    name: str
    argv: list[str]
    env: dict
    log_path: Path
    ready: callable = None  # () -> bool, once the process serves
    popen: subprocess.Popen | None = None
    wanted: bool = False
    killed_by_driver: bool = False
    starts: int = 0
    crashes: list = field(default_factory=list)  # (time, exit code, last log lines)
    lock: threading.Lock = field(default_factory=threading.Lock)
    log_offset: int = 0

    def start(self) -> None:
        with self.lock:
            self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            log = open(self.log_path, "ab")  # noqa: SIM115 (handed to the child; closed after Popen)
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a SIGKILL takes gunicorn's or celery's children too
            )
            log.close()
            self.wanted, self.killed_by_driver = True, False
            self.starts += 1

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL, *, by_driver=True) -> None:
        with self.lock:
            self.wanted = False
            self.killed_by_driver = by_driver
            if self.popen is not None:
                try:
                    os.killpg(self.popen.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    self.popen.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                    self.popen.wait()

    def new_log(self) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self.log_offset)
                return fh.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                return False
            if self.ready is not None and self.ready():
                return True
            if self.ready is None and self.name in READY_LINES and READY_LINES[self.name].search(self.new_log()):
                return True
            time.sleep(0.1)
        return False

    def tail(self, lines=15) -> str:
        return "\n".join(self.new_log().splitlines()[-lines:])


class Supervisor(threading.Thread):
    """Restarts a wanted process that exited without the driver killing it, after a restart delay, and records
    the crash (the soak reports every one: the stack should ride out the faults, not be restarted out of them)."""

    def __init__(self, procs: list[Proc], clock, restart_delay: float = 1.0):
        super().__init__(daemon=True, name="supervisor")
        self.procs, self.clock, self.restart_delay = procs, clock, restart_delay
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(0.2):
            for proc in self.procs:
                with proc.lock:
                    died = proc.wanted and proc.popen is not None and proc.popen.poll() is not None
                    if died:
                        proc.crashes.append((self.clock(), proc.popen.returncode, proc.tail()))
                        proc.wanted = False
                if died:
                    time.sleep(self.restart_delay)
                    proc.start()


def argv(command: str) -> list[str]:
    """Through the shell, as honcho and Railway run a Procfile line ($PORT, ${PORT:-8000}), with exec so the
    process keeps the group the soak kills."""
    return ["bash", "-c", f"exec {command}"]
