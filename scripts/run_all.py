"""Run web, worker and beat in the foreground with prefixed output; one Ctrl-C stops all three.

    python scripts/run_all.py --setup "python backend/manage.py migrate" \
        --proc "web=gunicorn ..." --proc "worker=celery ..." --proc "beat=celery ..."

Setup commands run first, in order (any failure stops here). Each process runs in its own session, so
the terminal's Ctrl-C reaches only this script, which sends SIGTERM to each (a warm shutdown: the
worker finishes its batch, gunicorn its requests) and waits; a second Ctrl-C kills them.
If one process dies on its own, the others are stopped too.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from walkthrough import walkthrough  # noqa: E402

STOP_GRACE_SECONDS = 30
print_lock = threading.Lock()


def emit(prefix: str, line: str) -> None:
    with print_lock:
        sys.stdout.write(f"{prefix} | {line}")
        if not line.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()


def pump(prefix: str, stream) -> None:
    for line in iter(stream.readline, ""):
        emit(prefix, line)
    stream.close()


def wait_until_healthy(base_url: str, processes: dict, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes.values()):
            return False
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                return response.status == 200
        except urllib.error.HTTPError as exc:
            return exc.code == 503  # up, but naming what is down: the log says why
        except OSError:
            time.sleep(0.3)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="append", default=[], help="command to run first (repeatable)")
    parser.add_argument("--proc", action="append", default=[], help="NAME=COMMAND to keep running (repeatable)")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the web process's base URL")
    args = parser.parse_args()

    for command in args.setup:
        emit("setup ", f"$ {command}")
        if subprocess.run(shlex.split(command)).returncode != 0:
            emit("setup ", f"failed: {command}")
            return 1

    width = max(len(spec.split("=", 1)[0]) for spec in args.proc)
    processes: dict[str, subprocess.Popen] = {}
    pumps = []
    for spec in args.proc:
        name, command = spec.split("=", 1)
        prefix = name.ljust(width)
        emit(prefix, f"$ {command}")
        process = subprocess.Popen(
            shlex.split(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        processes[prefix] = process
        thread = threading.Thread(target=pump, args=(prefix, process.stdout), daemon=True)
        thread.start()
        pumps.append(thread)

    stop_requests = []

    def request_stop(signum, frame):
        stop_requests.append(signum)
        if len(stop_requests) == 1:
            emit("run   ", f"{signal.Signals(signum).name}: stopping (SIGTERM to each; Ctrl-C again to kill)")
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
        else:
            for process in processes.values():
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    if "web" in {spec.split("=", 1)[0] for spec in args.proc}:
        if wait_until_healthy(args.url, processes):
            with print_lock:
                print(walkthrough(args.url, os.environ.get("REDIS_URL", "")), flush=True)

    # Run until a stop is requested or any process exits on its own; then stop the rest.
    while not stop_requests and all(p.poll() is None for p in processes.values()):
        time.sleep(0.2)
    if not stop_requests:
        dead = [name.strip() for name, p in processes.items() if p.poll() is not None]
        emit("run   ", f"{', '.join(dead)} exited: stopping the others")
        request_stop(signal.SIGTERM, None)

    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for thread in pumps:
        thread.join(timeout=2)
    codes = {name.strip(): p.returncode for name, p in processes.items()}
    emit("run   ", "stopped: " + ", ".join(f"{name} exit {code}" for name, code in codes.items()))
    return 0 if all(code == 0 for code in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
