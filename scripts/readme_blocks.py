"""README.md's shell blocks: which ones a reader runs, and the same commands with the URLs of one `make run`.

A block is runnable when the line before its fence is `<!-- runnable -->` (invisible on GitHub), or
`<!-- runnable: background -->` for one that runs until stopped (redis-cli SUBSCRIBE, "in a third terminal").
The README's commands use make run's defaults (http://127.0.0.1:8000, redis://127.0.0.1:6379/N and the local
PostgreSQL database); `localize` rewrites them for a run that used other ones, so what `make run` prints
(scripts/walkthrough.py) and what tests/deploy/test_readme_commands.py runs come from this one source.

Inside a block, the `# ` lines right under a command (no blank line between) are its output: `...` alone means
"and more lines", a line ending in `...` matches any line starting with the rest, `  <- note` is a note.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

README = Path(__file__).resolve().parents[1] / "README.md"

BASE_URL = "http://127.0.0.1:8000"
REDIS_URL = "redis://127.0.0.1:6379/0"
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/recipe_planner"
COOKIES = "/tmp/recipe-planner.cookies"

_MARKER = re.compile(r"^<!--\s*runnable(?::\s*(?P<mode>[a-z]+))?\s*-->\s*$")
_FENCE = re.compile(r"^```(?P<lang>\w*)")
_SHELLS = {"bash", "sh", "shell", "console"}
_REDIS = re.compile(r"redis://127\.0\.0\.1:6379/(?P<db>\d+)")
_NOTE = re.compile(r"\s+<-.*$")


@dataclass
class Command:
    text: str  # one shell command, continuation lines included
    expected: list[str] = field(default_factory=list)  # its documented output, without the `# `


@dataclass
class Block:
    section: str  # the heading it sits under
    line: int  # of its opening fence, 1-based
    text: str
    mode: str | None  # None: not runnable; "run"; "background"

    @property
    def commands(self) -> list[Command]:
        return parse_commands(self.text)


def blocks(text: str | None = None) -> list[Block]:
    """Every shell block of the README, in order."""
    lines = (README.read_text() if text is None else text).splitlines()
    found: list[Block] = []
    section, index = "", 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#") and not line.startswith("#!"):
            section = line.lstrip("#").strip()
        fence = _FENCE.match(line)
        if fence:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            if fence["lang"] in _SHELLS:
                marker = _MARKER.match(lines[index - 1].strip()) if index else None
                mode = (marker["mode"] or "run") if marker else None
                found.append(Block(section, index + 1, "\n".join(lines[index + 1 : end]), mode))
            index = end
        index += 1
    return found


def parse_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    current: list[str] = []
    in_output = False
    for line in text.splitlines():
        stripped = line.strip()
        if current:  # a continuation line of the command above
            current.append(line)
            if not line.rstrip().endswith("\\"):
                commands.append(Command("\n".join(current)))
                current, in_output = [], True
            continue
        if stripped.startswith("#"):
            if in_output and commands:
                commands[-1].expected.append(_NOTE.sub("", stripped[1:].strip()))
            continue
        if not stripped:
            in_output = False
            continue
        if line.rstrip().endswith("\\"):
            current = [line]
        else:
            commands.append(Command(line))
            in_output = True
    return commands


def localize(
    text: str, base_url: str = BASE_URL, redis_url: str = REDIS_URL, database_url: str = "", cookies: str = ""
) -> str:
    """The README's commands for a run at base_url with redis_url (db N of the README is db N of that URL's
    number: the broker's /1 is the cache's next one), database_url and cookies (each left alone when empty;
    a test's own cookie jar keeps runs side by side apart)."""
    redis = urlsplit(redis_url)
    first_db = int(redis.path.lstrip("/") or 0)

    def redis_for(match: re.Match[str]) -> str:
        return urlunsplit((redis.scheme, redis.netloc, f"/{first_db + int(match['db'])}", "", ""))

    text = text.replace(BASE_URL, base_url.rstrip("/"))
    text = _REDIS.sub(redis_for, text)
    if database_url:
        text = text.replace(DATABASE_URL, database_url)
    if cookies:
        text = text.replace(COOKIES, cookies)
    return text


def matches(expected: list[str], output: list[str]) -> str | None:
    """None when the output is what the README shows; else what differs. Lines match in any order (SCAN's)."""
    more = "..." in expected
    left = list(output)
    for want in (line for line in expected if line != "..."):
        for index, got in enumerate(left):
            if _same(want, got):
                del left[index]
                break
        else:
            return f"no output line matches {want!r}"
    if left and not more:
        return f"more output than the README shows: {left!r}"
    return None


def _same(want: str, got: str) -> bool:
    if want.endswith("..."):
        return got.startswith(want[:-3])
    if want == got:
        return True
    try:
        return json.loads(want) == json.loads(got)
    except ValueError:
        return False
