"""Writers and readers over HTTP, and the markers that tie every read to the write it reflects.

Each cached resource the soak writes is a *source* with one writer thread, so its versions are sequential: version
n of a source is written as a marker the API's bodies carry back:

  recipe:i     PATCH /api/recipes/{id}/      title and its one ingredient line "chaos r{i} v{n}"
  plan:u       PUT /api/meal-plans/{D}/      two entries with servings a = n % 100 + 1, b = n // 100 + 1
  manual:u     POST /api/shopping-lists/{id}/items/   a manual item "chaos m{u} v{n}" (the list shows the highest)
  prefs:u      PATCH /api/preferences/       disliked_ingredients ["chaos p{u} v{n}"]

Readers GET the cached endpoints, and `observe` turns a body back into {source: version} - including what the body
shows of *other* sources (a meal plan shows its recipes' titles, a shopping list its plan's servings and its recipes'
ingredient names), so dependents are checked as well as primary keys.

demo's plan, list and preferences are written all the time (their own keys are dropped in the writing request); alex's
plan and list are written once, at setup, so what alex reads of them stays right only through the dependents'
invalidation (the worker's job): alex's plan holds recipes 1 (demo's) and 3 (alex's).
"""

import datetime as dt
import random
import re
import threading
from dataclasses import dataclass, field

from chaos.http import Client

USERS = {"demo": "demo123", "alex": "alex123"}  # from seed_demo: one user per family
RECIPES_OF = {"demo": (1, 2), "alex": (3, 4)}  # recipe indexes each user authors
PLAN_RECIPES = {"demo": (1, 2), "alex": (1, 3)}  # the recipes of each family's plan (breakfast, dinner)
STATIC = {"plan:alex", "manual:alex"}  # written once at setup: read only as dependents
TAG = "chaos"
MARK = re.compile(r"^chaos (r|m|p)(\w+) v(\d+)$")


def recipe_mark(i: int, n: int) -> str:
    return f"chaos r{i} v{n}"


def plan_servings(n: int) -> tuple[int, int]:
    return n % 100 + 1, n // 100 + 1


def plan_version(a: int, b: int) -> int:
    return (b - 1) * 100 + (a - 1)


@dataclass
class World:
    """What setup created: database ids behind the soak's names, and the plan/list date."""

    day: dt.date
    recipe_ids: dict = field(default_factory=dict)  # index -> id
    list_ids: dict = field(default_factory=dict)  # user -> chaos shopping list id
    list_pages: dict = field(default_factory=dict)  # user -> the page of GET /api/shopping-lists/ showing it

    def recipe_index(self, recipe_id: int):
        return next((i for i, rid in self.recipe_ids.items() if rid == recipe_id), None)


@dataclass
class Write:
    source: str
    version: int
    started: float
    ended: float
    status: int


@dataclass
class Read:
    endpoint: str
    user: str
    started: float
    ended: float
    status: int
    x_cache: str
    observed: dict  # source -> version (the oldest the body shows of it)
    body: bytes


# --- writes ------------------------------------------------------------------------------------------------------


def write_request(world: World, source: str, n: int):
    kind, who = source.split(":")
    if kind == "recipe":
        i = int(who)
        mark = recipe_mark(i, n)
        return (
            "PATCH",
            f"/api/recipes/{world.recipe_ids[i]}/",
            {"title": mark, "ingredients": [{"ingredient": mark, "quantity": 1, "unit": "g"}]},
        )
    if kind == "plan":
        a, b = plan_servings(n)
        first, second = PLAN_RECIPES[who]
        return (
            "PUT",
            f"/api/meal-plans/{world.day.isoformat()}/",
            {
                "entries": [
                    {"meal": "breakfast", "recipe_id": world.recipe_ids[first], "servings": a},
                    {"meal": "dinner", "recipe_id": world.recipe_ids[second], "servings": b},
                ]
            },
        )
    if kind == "manual":
        return (
            "POST",
            f"/api/shopping-lists/{world.list_ids[who]}/items/",
            {"ingredient": f"chaos m{who} v{n}", "quantity": 1, "unit": "piece"},
        )
    if kind == "prefs":
        return "PATCH", "/api/preferences/", {"disliked_ingredients": [f"chaos p{who} v{n}"]}
    raise ValueError(source)


def sources(*, written=True) -> list[tuple[str, str]]:
    """(source, the user whose session writes it): those the writers change, or (written=False) all of them."""
    found = []
    for user, indexes in RECIPES_OF.items():
        found += [(f"recipe:{i}", user) for i in indexes]
        found += [(f"plan:{user}", user), (f"manual:{user}", user), (f"prefs:{user}", user)]
    return [(source, user) for source, user in found if not (written and source in STATIC)]


def setup(port: int, day: dt.date, clock) -> tuple[World, list[Write]]:
    """Version 0 of every source, written through the API before the soak starts."""
    world = World(day=day)
    writes = []
    for user, password in USERS.items():
        client = Client(port, clock)
        reply = client.login(user, password)
        if reply.status != 200:
            raise SystemExit(f"chaos: login as {user} answered {reply.status}: {reply.body[:300]!r}")
        for i in RECIPES_OF[user]:
            mark = recipe_mark(i, 0)
            reply = client.request(
                "POST",
                "/api/recipes/",
                {
                    "title": mark,
                    "servings": 1,
                    "tags": [TAG],
                    "ingredients": [{"ingredient": mark, "quantity": 1, "unit": "g"}],
                },
            )
            if reply.status != 201:
                raise SystemExit(f"chaos: creating a recipe answered {reply.status}: {reply.body[:300]!r}")
            world.recipe_ids[i] = reply.json()["id"]
            writes.append(Write(f"recipe:{i}", 0, reply.started, reply.ended, reply.status))
        span = {"start": day.isoformat(), "end": day.isoformat(), "name": TAG}
        reply = client.request("POST", "/api/shopping-lists/", span)
        if reply.status != 201:
            raise SystemExit(f"chaos: creating a shopping list answered {reply.status}: {reply.body[:300]!r}")
        world.list_ids[user] = reply.json()["id"]
        # A newer, empty list in front of it: with the stack's one list a page (__main__.stack_env) the chaos list is
        # on page 2, which every write it shows (items, the plan, the plan's recipes) must drop exactly.
        newer = (day + dt.timedelta(days=1)).isoformat()
        reply = client.request("POST", "/api/shopping-lists/", {"start": newer, "end": newer, "name": f"{TAG} front"})
        if reply.status != 201:
            raise SystemExit(f"chaos: creating a shopping list answered {reply.status}: {reply.body[:300]!r}")
        world.list_pages[user] = _page_showing(client, world.list_ids[user])
    for source, user in sources(written=False):
        if source.startswith("recipe:"):
            continue
        client = Client(port, clock)
        client.login(user, USERS[user])
        method, path, payload = write_request(world, source, 0)
        reply = client.request(method, path, payload)
        if reply.status not in (200, 201):
            raise SystemExit(f"chaos: {method} {path} answered {reply.status}: {reply.body[:300]!r}")
        writes.append(Write(source, 0, reply.started, reply.ended, reply.status))
    return world, writes


def _page_showing(client: Client, list_id: int) -> int:
    """The page of GET /api/shopping-lists/ showing the list (following `next`)."""
    path, page = "/api/shopping-lists/?page=1", 1
    while path:
        reply = client.request("GET", path)
        if reply.status != 200:
            raise SystemExit(f"chaos: GET {path} answered {reply.status}: {reply.body[:300]!r}")
        if any(item["id"] == list_id for item in reply.json()["results"]):
            return page
        path, page = reply.json()["next"], page + 1
    raise SystemExit(f"chaos: no page of GET /api/shopping-lists/ shows list {list_id}")


# --- reads -------------------------------------------------------------------------------------------------------


def endpoints(world: World, user: str) -> list[tuple[str, str]]:
    """(label, path) of every cached read a user makes."""
    found = [(f"recipe {i}", f"/api/recipes/{rid}/") for i, rid in world.recipe_ids.items()]
    found += [
        ("recipe list", f"/api/recipes/?tag={TAG}"),
        ("meal plan", f"/api/meal-plans/{world.day.isoformat()}/"),
        ("shopping lists", f"/api/shopping-lists/?page={world.list_pages[user]}"),
        ("shopping list", f"/api/shopping-lists/{world.list_ids[user]}/"),
        ("preferences", "/api/preferences/"),
    ]
    return found


def _keep_oldest(observed: dict, source: str, version: int) -> None:
    observed[source] = min(version, observed.get(source, version))


def _marks(observed: dict, text: str, user: str) -> None:
    match = MARK.match(text or "")
    if not match:
        return
    kind, who, n = match.group(1), match.group(2), int(match.group(3))
    if kind == "r":
        _keep_oldest(observed, f"recipe:{who}", n)
    elif kind == "p":
        _keep_oldest(observed, f"prefs:{who}", n)
    elif kind == "m":  # manual items accumulate: the list's version is its newest item
        observed[f"manual:{who}"] = max(n, observed.get(f"manual:{who}", -1))


def _quantity(value) -> int:
    return int(round(float(value)))


def _shopping_list(observed: dict, world: World, user: str, item: dict) -> None:
    servings = {}
    for line in item.get("items", []):
        _marks(observed, line.get("ingredient"), user)
        match = MARK.match(line.get("ingredient") or "")
        if match and match.group(1) == "r":
            servings[int(match.group(2))] = _quantity(line["quantity"])  # recipe servings 1, quantity 1 per serving
    first, second = PLAN_RECIPES[user]
    if first in servings and second in servings:
        _keep_oldest(observed, f"plan:{user}", plan_version(servings[first], servings[second]))


def observe(world: World, user: str, label: str, doc) -> dict | None:
    """{source: version} shown by a 200 body, or None when the body does not have the shape it should."""
    observed: dict = {}
    try:
        if label.startswith("recipe ") and label != "recipe list":
            _marks(observed, doc["title"], user)
            for line in doc["ingredients"]:
                _marks(observed, line["ingredient"], user)
        elif label == "recipe list":
            for result in doc["results"]:
                _marks(observed, result["title"], user)
            if len(observed) != len(world.recipe_ids):
                return None
        elif label == "meal plan":
            by_recipe = {}
            for entry in doc["entries"]:
                _marks(observed, entry["recipe"]["title"], user)
                by_recipe[world.recipe_index(entry["recipe"]["id"])] = entry["servings"]
            first, second = PLAN_RECIPES[user]
            if first not in by_recipe or second not in by_recipe:
                return None
            _keep_oldest(observed, f"plan:{user}", plan_version(by_recipe[first], by_recipe[second]))
        elif label == "shopping lists":
            chaos = [item for item in doc["results"] if item["id"] == world.list_ids[user]]
            if len(chaos) != 1:
                return None
            _shopping_list(observed, world, user, chaos[0])
        elif label == "shopping list":
            _shopping_list(observed, world, user, doc)
        elif label == "preferences":
            for name in doc["disliked_ingredients"]:
                _marks(observed, name, user)
    except (KeyError, TypeError, ValueError):
        return None
    return observed or None


# --- the threads -------------------------------------------------------------------------------------------------


class Writer(threading.Thread):
    def __init__(self, port, world, source, user, clock, until, pause, rng, out: list, lock, lulls):
        super().__init__(daemon=True, name=f"writer {source}")
        self.lulls = lulls
        self.client = Client(port, clock)
        self.world, self.source, self.user = world, source, user
        self.clock, self.until, self.pause = clock, until, pause
        self.rng, self.out, self.lock = rng, out, lock
        self.relogins = 0

    def run(self):
        n = 0
        while self.clock() < self.until:
            if self.lulls.paused(self.clock()):
                threading.Event().wait(0.05)
                continue
            n += 1
            method, path, payload = write_request(self.world, self.source, n)
            reply = self.client.request(method, path, payload)
            with self.lock:
                self.out.append(Write(self.source, n, reply.started, reply.ended, reply.status))
            if reply.status in (401, 403):
                self.relogins += 1
                self.client.relogin()
            threading.Event().wait(self.rng.uniform(*self.pause))


class Reader(threading.Thread):
    def __init__(self, port, world, user, clock, until, pause, rng, out: list, lock):
        super().__init__(daemon=True, name=f"reader {user}")
        self.client = Client(port, clock)
        self.world, self.user, self.clock, self.until, self.pause = world, user, clock, until, pause
        self.rng, self.out, self.lock = rng, out, lock
        self.relogins = 0

    def read(self, label, path) -> Read:
        reply = self.client.request("GET", path)
        observed = None
        if reply.status == 200:
            observed = observe(self.world, self.user, label, reply.json())
        read = Read(label, self.user, reply.started, reply.ended, reply.status, reply.x_cache, observed, reply.body)
        with self.lock:
            self.out.append(read)
        if reply.status in (401, 403):
            self.relogins += 1
            self.client.relogin()
        return read

    def run(self):
        paths = endpoints(self.world, self.user)
        while self.clock() < self.until:
            self.read(*self.rng.choice(paths))
            threading.Event().wait(self.rng.uniform(*self.pause))

    def read_all(self):
        """Every endpoint once (the final check after the drain)."""
        return [self.read(label, path) for label, path in endpoints(self.world, self.user)]


def log_in(threads, port, clock) -> None:
    """One login per user, its cookies shared by that user's threads (a login costs a password hash: sixteen of them
    would eat the first seconds of the soak). A thread that gets a 401 later logs in again on its own."""
    sessions = {}
    for user, password in USERS.items():
        client = Client(port, clock)
        reply = client.login(user, password)
        if reply.status != 200:
            raise SystemExit(f"chaos: login as {user} answered {reply.status}: {reply.body[:300]!r}")
        sessions[user] = client.cookies
    for thread in threads:
        thread.client.cookies = dict(sessions[thread.user])
        thread.client.credentials = (thread.user, USERS[thread.user])


def new_rng(seed: int, name: str) -> random.Random:
    return random.Random(f"{seed}:{name}")


class SessionProbe(threading.Thread):
    """Ended sessions must stay ended, whatever Redis did. Each round logs a new session in and reads with it, and logs
    out the oldest of the LIVE sessions (so a session made before an outage can be ended during it, while Redis still
    holds its copy); every ended session's cookies are then presented to /api/me/ and a cached read for a minute. Any
    200 for them is an ended session accepted again."""

    KEEP = 60.0
    LIVE = 4

    def __init__(self, port, clock, until, rng, lock):
        super().__init__(daemon=True, name="session probe")
        self.port, self.clock, self.until, self.rng, self.lock = port, clock, until, rng, lock
        self.live: list[Client] = []
        self.ended: list[tuple[float, dict]] = []  # (logout answered at, the cookies it ended)
        self.logout_times: list[tuple[float, float]] = []  # (sent, answered) of every 204
        self.logouts = 0
        self.checks = 0
        self.accepted: list[tuple[float, float, str]] = []  # (when, logged out at, path)

    def run(self):
        while self.clock() < self.until:
            client = Client(self.port, self.clock)
            if client.login("alex", USERS["alex"]).status == 200:
                client.request("GET", "/api/preferences/")
                self.live.append(client)
            if len(self.live) > self.LIVE:
                oldest = self.live[0]
                cookies = dict(oldest.cookies)
                reply = oldest.request("POST", "/api/auth/logout/")
                oldest.close()
                if reply.status == 204:
                    self.live.pop(0)
                    self.logouts += 1
                    self.ended.append((reply.ended, cookies))
                    self.logout_times.append((reply.started, reply.ended))
            self.check_ended()
            threading.Event().wait(self.rng.uniform(1.0, 3.0))

    def check_ended(self):
        now = self.clock()
        self.ended = [(at, cookies) for at, cookies in self.ended if now - at < self.KEEP]
        for at, cookies in self.ended:
            old = Client(self.port, self.clock)
            old.cookies = dict(cookies)
            for path in ("/api/me/", "/api/preferences/"):
                reply = old.request("GET", path)
                self.checks += 1
                if reply.status == 200:
                    with self.lock:
                        self.accepted.append((reply.started, at, path))
            old.close()
