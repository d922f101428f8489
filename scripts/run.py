"""`make run`: the Procfile's release step, the demo data, then its web, worker and beat under honcho.

    python scripts/run.py --port 8000 [--verbose]

Runs inside scripts/with_services.py, which has chosen REDIS_URL and DATABASE_URL and put this virtualenv's
bin/ first on PATH. honcho (its documented Manager API) starts each Procfile line in a session of its own,
prefixes its output, and on Ctrl-C (or when one process exits) sends SIGTERM to every process group, then
SIGKILL after 5 s. Only the worker is restarted when it dies: it runs under watchmedo auto-restart, which
starts it again whenever it exits (a crash, a SIGKILL, a Redis outage it did not ride out: issue 12), as
compose's `restart:` and Railway's restart policy do in production. Once web answers /healthz the
walkthrough is printed. Quiet by default; --verbose (make run VERBOSE=1) shows Celery's banners, every
task it runs, gunicorn's start-up lines and the migrations.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from honcho.environ import parse_procfile
from honcho.manager import Manager

sys.path.insert(0, str(Path(__file__).resolve().parent))

from walkthrough import walkthrough  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("web", "worker", "beat")
HEALTHY_WITHIN_SECONDS = 120

# watchmedo stops the worker with SIGINT, as a terminal's Ctrl-C would: Celery's warm shutdown, and its pool
# processes ignore SIGINT. --kill-after stays under honcho's 5 s (honcho.manager.KILL_WAIT): honcho then kills
# watchmedo's process group, which the worker (started by watchmedo in a session of its own) is not part of.
# A change to a .py file under backend/ or worker/ restarts the worker too, so it never runs stale code.
RESTART_ON_EXIT = (
    "watchmedo auto-restart --directory backend --directory worker --pattern '*.py' --recursive"
    " --ignore-directories --debounce-interval 1 --signal SIGINT --kill-after 4 -- /bin/sh -c"
)

# What --verbose shows and the default leaves out (each read by the process it names).
QUIET_ENVIRONMENT = {
    "CELERY_QUIET": "1",  # celery's --quiet (click reads CELERY_<OPTION>): no start-up banner
    "CELERY_TASK_LOG_LEVEL": "WARNING",  # config/settings.py: no line per task run (the sweep runs every second)
    "GUNICORN_CMD_ARGS": "--log-level warning",  # no start-up lines; the access log stays
    # Celery warns when its worker runs as root, which a container or a throwaway VM often does.
    "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges",
}


def procfile() -> dict[str, str]:
    return dict(parse_procfile((REPO / "Procfile").read_text()).processes)


def run_step(name: str, command: str, env: dict[str, str], verbose: bool) -> bool:
    """A one-off command; its output only if asked for or if it fails."""
    result = subprocess.run(command, shell=True, cwd=REPO, env=env, capture_output=not verbose, text=True)
    if result.returncode != 0:
        if not verbose:
            sys.stdout.write(result.stdout + result.stderr)
        print(f"{name} failed (exit {result.returncode}): {command}", file=sys.stderr)
    return result.returncode == 0


def print_walkthrough_when_healthy(base_url: str, redis_url: str) -> None:
    deadline = time.monotonic() + HEALTHY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                break
        except urllib.error.HTTPError as exc:
            if exc.code == 503:  # up, naming what is down (its log says why)
                break
        except OSError:
            pass
        time.sleep(0.3)
    else:
        print(f"web did not answer {base_url}/healthz within {HEALTHY_WITHIN_SECONDS} s", file=sys.stderr)
        return
    print(walkthrough(base_url, redis_url), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    processes = procfile()
    env = {**os.environ, "WEB_HOST": "127.0.0.1", "PORT": str(args.port)}
    env.setdefault("WEB_CONCURRENCY", "2")  # gunicorn's workers
    if not args.verbose:
        env.update(QUIET_ENVIRONMENT)

    release = processes["release"] + ("" if args.verbose else " --verbosity 0")
    if not run_step("release", release, env, args.verbose):
        return 1
    if not run_step("seed_demo", "python backend/manage.py seed_demo", env, verbose=True):
        return 1

    manager = Manager()
    for name in SERVICES:
        # exec: the process replaces honcho's shell, so it gets honcho's signals and its exit code is honcho's.
        command = "exec " + processes[name]
        if name == "worker":
            command = f"exec {RESTART_ON_EXIT} {shlex.quote(command)}"
        manager.add_process(name, command, env=env, cwd=str(REPO))

    base_url = f"http://127.0.0.1:{args.port}"
    threading.Thread(
        target=print_walkthrough_when_healthy, args=(base_url, env.get("REDIS_URL", "")), daemon=True
    ).start()
    manager.loop()
    # honcho's code is 130/143 when Ctrl-C or SIGTERM stopped everything: that is the way out, not a failure.
    return 0 if manager.returncode in (130, 143) else manager.returncode


if __name__ == "__main__":
    sys.exit(main())
