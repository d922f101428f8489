"""Write the repository's .env for local development, once: `make run` runs this when there is no .env.

config/settings.py reads .env for every command (manage.py, celery, gunicorn), never over the real environment, so
the commands README.md and `make show-commands` print work as printed. It holds DEBUG=1, a SECRET_KEY generated
here, and the REDIS_URL and DATABASE_URL `make run` uses (scripts/dev_redis.py and dev_database.py: the same rules).
An existing .env is never touched; delete it to have it written again. `python scripts/dev_env.py PATH` writes PATH.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dev_database  # noqa: E402
import dev_redis  # noqa: E402

ENV_FILE = Path(__file__).resolve().parents[1] / ".env"


def redis_url() -> str | None:
    """REDIS_URL if set; else 6379 when a Redis answers there or `make run` will start its embedded one there."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if dev_redis.answers_ping(dev_redis.LOCAL_URL) or dev_redis._port_is_free(6379):
        return dev_redis.LOCAL_URL
    return None  # make run's embedded Redis gets a free port: its URL is printed at start


def content() -> str:
    lines = [
        "# Local development only (git-ignored), written by `make run` (scripts/dev_env.py). Every command reads it",
        "# (backend/config/settings.py); a variable set in the environment wins. .env.example lists the other names.",
        "DEBUG=1",
        f"SECRET_KEY=dev-{secrets.token_urlsafe(50)}",
    ]
    redis = redis_url()
    lines.append(f"REDIS_URL={redis}" if redis else "# REDIS_URL=  (make run prints the URL of its embedded Redis)")
    database = dev_database.resolve()
    lines.append(f"DATABASE_URL={database}" if database else "# DATABASE_URL=  (unset: backend/db.sqlite3)")
    return "\n".join(lines) + "\n"


def main(path: Path = ENV_FILE) -> int:
    if path.exists():
        print(f"[dev-env] {path} exists: left as it is", file=sys.stderr)
        return 0
    path.write_text(content())
    path.chmod(0o600)  # it holds a secret key
    print(f"[dev-env] wrote {path} (DEBUG=1, a generated SECRET_KEY, the service URLs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ENV_FILE))
