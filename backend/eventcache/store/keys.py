"""Every cache key and its TTL. Nothing else in the code builds a key string.

Key names are unprefixed here (`recipe:42`); django-redis adds `recipe_planner:1:` (KEY_PREFIX and its
key version), so `redis-cli` shows `recipe_planner:1:recipe:42`. Which keys an event touches lives beside
this module, in eventcache/store/rules.py.
"""

import datetime as dt
import re
from dataclasses import dataclass

MINUTE = 60
HOUR = 60 * MINUTE


@dataclass(frozen=True)
class KeyFamily:
    name: str  # used in stats, `manage.py invalidate NAME` and the namespace version key
    pattern: str  # documentation of the key's shape
    ttl: int | None  # seconds; None means the key never expires


RECIPE = KeyFamily("recipe", "recipe:{recipe_id}", 30 * MINUTE)
RECIPE_LIST = KeyFamily("recipe_list", "api:recipes:tag={tag}:page={page}", 5 * MINUTE)
MEAL_PLAN = KeyFamily("meal_plan", "meal_plan:{date}:{family_id}", 30 * MINUTE)
SHOPPING_LISTS = KeyFamily("shopping_lists", "user:{user_id}:shopping_lists", 30 * MINUTE)
PREFERENCES = KeyFamily("preferences", "user:{user_id}:preferences", 24 * HOUR)
IDENTITY = KeyFamily("identity", "user:{user_id}:identity", 30 * MINUTE)  # lets cached reads skip the users table
STATIC_CONFIG = KeyFamily("config", "config:{name}", None)

FAMILIES = {f.name: f for f in (RECIPE, RECIPE_LIST, MEAL_PLAN, SHOPPING_LISTS, PREFERENCES, IDENTITY, STATIC_CONFIG)}


class InvalidKeyPart(ValueError):
    """A value that cannot be part of a key (not a positive int, not a date, not a slug)."""


@dataclass(frozen=True)
class Key:
    family: KeyFamily
    name: str

    @property
    def ttl(self) -> int | None:
        return self.family.ttl

    def __str__(self):
        return self.name


_SLUG = re.compile(r"^[a-z0-9_-]{1,50}$")


def _id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidKeyPart(f"expected a positive integer id, got {value!r}")
    return value


def _date(value) -> str:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidKeyPart(f"expected a date, got {value!r}")
    return value.isoformat()


def _slug(value) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise InvalidKeyPart(f"expected a slug of a-z, 0-9, '-' or '_', got {value!r}")
    return value


def recipe(recipe_id: int) -> Key:
    return Key(RECIPE, f"recipe:{_id(recipe_id)}")


def recipe_list(tag: str | None, page: int) -> Key:
    return Key(RECIPE_LIST, f"api:recipes:tag={_slug(tag) if tag else ''}:page={_id(page)}")


def meal_plan(date: dt.date, family_id: int) -> Key:
    return Key(MEAL_PLAN, f"meal_plan:{_date(date)}:{_id(family_id)}")


def shopping_lists(user_id: int) -> Key:
    return Key(SHOPPING_LISTS, f"user:{_id(user_id)}:shopping_lists")


def preferences(user_id: int) -> Key:
    return Key(PREFERENCES, f"user:{_id(user_id)}:preferences")


def identity(user_id: int) -> Key:
    return Key(IDENTITY, f"user:{_id(user_id)}:identity")


def static_config(name: str) -> Key:
    return Key(STATIC_CONFIG, f"config:{_slug(name)}")


# --- Bookkeeping keys: not cached values, but every one of them is named here too -------------------------


def lease(key: Key) -> str:
    """The fill lease of a key (Facebook-style): a fill lands only while its token is still here."""
    return f"lease:{key.name}"


def namespace(family: KeyFamily) -> str:
    """The family's namespace version; bumping it invalidates every key of the family at once."""
    return f"ns:{family.name}"


def session(session_store) -> str:
    """A cached_db session's cache key, as Django names it (`django.contrib.sessions.cached_db` + the session
    key). Django reads and writes it; the hit path of a logged-in read fetches it in the same round trip as
    the identity and the value (store.read_authenticated). Only for a store that has a session key."""
    return session_store.cache_key


HOT_SHOPPING_LISTS = "hot:shopping_lists"  # sorted set user_id -> decaying read score, trimmed to a bound
STATS = "stats:cache"  # hash of counters: hits/misses per family, computations, rejected events, ...
HOT_SHOPPING_LISTS_EPOCH = "hot:shopping_lists:epoch"  # forward-decay epoch (Unix seconds) of HOT_SHOPPING_LISTS
