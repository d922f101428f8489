"""The store's Lua scripts, loaded by name from lua/*.lua (django-cacheops' lua/ folder is the model).

Each script file names its KEYS and ARGV at the top. A file whose first line is `-- uses: a, b` is run after the
library files lua/a.lua, lua/b.lua (`local function`s shared by several scripts: read_or_lease, current_ns,
record_hot), so a script is composed from files, never from Python strings. Scripts run by EVALSHA through
redis-py's `register_script` (loaded on first use; reloaded by redis-py if the server forgot it).
"""

import functools
from pathlib import Path

from redis.commands.core import Script

LUA_DIR = Path(__file__).with_name("lua")
_USES_PREFIX = "-- uses:"

_registered: dict[str, Script] = {}


def _file(name: str) -> str:
    return (LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")


def uses(name: str) -> list[str]:
    """The library files script `name` is composed after (its first line's `-- uses:` list)."""
    first_line = _file(name).partition("\n")[0]
    if not first_line.startswith(_USES_PREFIX):
        return []
    return [part.strip() for part in first_line[len(_USES_PREFIX) :].split(",") if part.strip()]


@functools.cache
def source(name: str) -> str:
    """The full source of script `name`: its library files, then the script itself."""
    return "".join([*(_file(library) for library in uses(name)), _file(name)])


def script(name: str, client) -> Script:
    """Script `name`, registered once per process (the SHA is computed locally; nothing is sent yet)."""
    registered = _registered.get(name)
    if registered is None:
        registered = _registered[name] = client.register_script(source(name))
    return registered


def run(name: str, keys: list, args: list, client):
    """Run script `name` on `client` (a connection or a pipeline): EVALSHA, loading the script on first use."""
    return script(name, client)(keys=keys, args=args, client=client)


def run_each(name: str, calls: list[tuple[list, list]], client) -> list:
    """Script `name` once per (keys, args) of `calls` on connection `client`; the replies in order. One call is one
    EVALSHA; several go in one pipeline, before which redis-py sends SCRIPT EXISTS: two round trips, still fewer
    than one a call, but one too many for the single call a write's own drop or fill makes."""
    if len(calls) <= 1:
        return [run(name, keys, args, client) for keys, args in calls]
    pipe = client.pipeline(transaction=False)
    for keys, args in calls:
        run(name, keys, args, pipe)
    return pipe.execute()
