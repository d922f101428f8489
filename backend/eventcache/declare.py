"""The declaration API: what a domain tells the engine about the reads it caches. The engine knows nothing else.

A domain (settings.EVENTCACHE_DOMAIN names its module, e.g. "planner.cache") declares, in one place:

    Family(name, pattern, ttl, parts, payload, hot)   a kind of cached value; `family.key(**parts)` builds a Key
    Event subclasses (eventcache.events)              what can happen, ids and plain values only
    Capture(table, operations, kind, data)            which table writes produce which events (database triggers)
    Rule(kind, primary, bump, dependents)             which keys an event touches; `dependents` is ONE batched
                                                      look-up for every event of a batch that shares it
                                                      (the engine adds TableTruncated: TRUNCATE of a captured
                                                      table bumps every family)
    Refill(family, hottest)                           keys computed again right after they are dropped
    RefreshHot(name, family, top_n) /                 warmers: keep values warm ahead of expiry (eventcache.warm)
    RefreshPages(name, family, pages, ttl)
    DOMAIN = Domain(families, kinds, captures, rules, refill, warmers)

The engine loads that module's DOMAIN when Django starts (eventcache.apps) and every part of it reads it through
`domain()`; `use(other)` installs another Domain for a while (tests declaring an extra read).
"""

import contextlib
import datetime as dt
import importlib
import re
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventcache.events import Event

# --- Key parts ----------------------------------------------------------------------------------------------


class InvalidKeyPart(ValueError):
    """A value that cannot be part of a key (not a positive int, not a date, not a slug)."""


@dataclass(frozen=True)
class Part:
    """How one value becomes part of a key name (`format` validates; it raises InvalidKeyPart) and back (`parse`,
    for keys rebuilt from their hot-set member)."""

    format: Callable[[Any], str]
    parse: Callable[[str], Any]


def _id(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidKeyPart(f"expected a positive integer id, got {value!r}")
    return str(value)


def _date(value) -> str:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidKeyPart(f"expected a date, got {value!r}")
    return value.isoformat()


_SLUG = re.compile(r"[a-z0-9_-]{1,50}")  # fullmatch: "$" alone would let a trailing newline through


def _slug(value) -> str:
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise InvalidKeyPart(f"expected a slug of a-z, 0-9, '-' or '_', got {value!r}")
    return value


ID = Part(_id, int)
DATE = Part(_date, dt.date.fromisoformat)
SLUG = Part(_slug, str)


def optional(part: Part) -> Part:
    """`part`, or nothing: None (and "") become the empty string, and the empty string parses back to None."""
    return Part(lambda v: part.format(v) if v else "", lambda text: part.parse(text) if text else None)


# --- Families and keys --------------------------------------------------------------------------------------


class Family:
    """A kind of cached value. Compared by identity (it is declared once); see the module doc for the fields.

    pattern   the key's name with one {field} per part, e.g. "recipe:{recipe_id}"
    ttl       seconds; None means the key never expires
    parts     field -> Part
    payload   payload(**parts) -> the JSON-ready value (what a read computes on a miss, a refill or a warmer)
    hot       count reads of this family's keys in a bounded, decaying hot set (eventcache.store.hotness)
    """

    __slots__ = ("name", "pattern", "ttl", "parts", "payload", "hot", "_fields", "_template", "_formats")

    def __init__(self, name, pattern, ttl, parts, payload=None, *, hot=False):
        self.name, self.pattern, self.ttl, self.payload, self.hot = name, pattern, ttl, payload, hot
        parsed = list(string.Formatter().parse(pattern))
        self._fields = tuple(f for _, f, _, _ in parsed if f)
        if set(self._fields) != set(parts) or len(self._fields) != len(parts):
            raise ValueError(f"family {name}: the pattern's fields {self._fields} and the parts {sorted(parts)} differ")
        self.parts = {f: parts[f] for f in self._fields}
        # The pattern as a %-template and the parts' formatters in field order: a key is built on every read.
        # The whole name is a hash tag (`{recipe:42}`): on a Redis Cluster a key and its lease (`lease:{recipe:42}`)
        # share a slot, so one script can touch both, while different keys spread over the slots. On one Redis the
        # braces are just characters.
        template = "".join(text.replace("%", "%%") + ("%s" if f else "") for text, f, _, _ in parsed)
        self._template = "{" + template + "}"
        self._formats = tuple((f, parts[f].format) for f in self._fields)

    def key(self, **values) -> "Key":
        """The Key of these part values (InvalidKeyPart for a value a key cannot hold)."""
        name = self._template % tuple([fmt(values[f]) for f, fmt in self._formats])
        return Key(self, name, tuple([values[f] for f in self._fields]))

    def member(self, key: "Key") -> str:
        """The key's parts as one string (its member in the family's hot set): "42", "2026-01-05:7"."""
        return ":".join(part.format(value) for part, value in zip(self.parts.values(), key.args, strict=True))

    def from_member(self, member: str) -> "Key":
        return self.key(
            **{f: part.parse(t) for (f, part), t in zip(self.parts.items(), member.split(":"), strict=True)}
        )

    def compute(self, key: "Key") -> Callable[[], Any]:
        """A no-argument function computing the key's value with the family's payload."""
        kwargs = dict(zip(self._fields, key.args, strict=True))
        return lambda: self.payload(**kwargs)

    def __repr__(self):
        return f"Family({self.name!r}, {self.pattern!r})"


@dataclass(frozen=True)
class Key:
    """A cache key: its family, its name (`{recipe:42}`: the pattern filled in, as a hash tag; unprefixed:
    django-redis adds `{KEY_PREFIX}:1:`) and the part values it was built from (so the family's payload can compute
    it again). Equal when family and name are."""

    family: Family
    name: str
    args: tuple = field(default=(), compare=False)

    @property
    def ttl(self) -> int | None:
        return self.family.ttl

    def __str__(self):
        return self.name


# --- Events -> keys -----------------------------------------------------------------------------------------

INSERT, UPDATE, DELETE = "INSERT", "UPDATE", "DELETE"
ALL = (INSERT, UPDATE, DELETE)


@dataclass(frozen=True)
class Capture:
    """Writes of `operations` on `table` produce a `kind` event whose data fields are SQL expressions over {row}
    (NEW or OLD; eventcache.capture.triggers). `update_of`: only these columns' updates count (empty: any)."""

    table: str
    operations: tuple[str, ...]
    kind: "type[Event]"
    data: dict[str, str]
    update_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """For events of `kind`: `primary(event)` -> the keys the event names itself (no database: the web process drops
    them on commit); `bump`: families whose namespace version is bumped (every key of the family becomes a miss);
    `dependents(events)` -> keys found from the database, called once per batch with every event of the batch
    whose rule names this same function. A kind may have several rules."""

    kind: "type[Event]"
    primary: Callable[[Any], Iterable[Key]] = lambda event: ()
    bump: tuple[Family, ...] = ()
    dependents: Callable[[list], Iterable[Key]] | None = None


@dataclass(frozen=True)
class Refill:
    """Keys of `family` that invalidation computes again at once (under a lease, so readers wait for them rather
    than compute them): all of them, or with `hottest`, only those among the family's `hottest()` hottest."""

    family: Family
    hottest: Callable[[], int] | None = None


@dataclass(frozen=True)
class RefreshHot:
    """Warmer `name`: recompute the family's `top_n()` hottest keys ahead of expiry."""

    name: str
    family: Family
    top_n: Callable[[], int]


@dataclass(frozen=True)
class RefreshPages:
    """Warmer `name`: recompute the keys `pages()` yields (lists of part-value dicts, a page at a time), each
    stored with the TTL `ttl()` returns (e.g. the family's TTL minus a random jitter)."""

    name: str
    family: Family
    pages: Callable[[], Iterator[list[dict]]]
    ttl: Callable[[], int | None] | None = None


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class Domain:
    families: tuple[Family, ...]
    kinds: tuple["type[Event]", ...]
    captures: tuple[Capture, ...] = ()
    rules: tuple[Rule, ...] = ()
    refill: tuple[Refill, ...] = ()
    warmers: tuple[RefreshHot | RefreshPages, ...] = ()
    # Derived once, for the hot paths:
    families_by_name: dict = field(init=False, repr=False, compare=False)
    kinds_by_name: dict = field(init=False, repr=False, compare=False)
    rules_by_kind: dict = field(init=False, repr=False, compare=False)
    captured_tables: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        from eventcache.events import TableTruncated  # events imports this module

        all_kinds: tuple[type[Event], ...] = (*self.kinds, TableTruncated)
        kinds = {cls.kind: cls for cls in all_kinds}
        by_kind: dict[str, tuple[Rule, ...]] = {name: () for name in kinds}
        # TRUNCATE (eventcache.capture.triggers) bumps every family, not only those reading the table: it is a rare
        # bulk operation (flush, a reload), a bump is constant-time, and a per-table list would have to follow every
        # payload's joins (shopping lists read recipes, plans and memberships) or leave a family stale.
        for rule in (Rule(TableTruncated, bump=self.families), *self.rules):
            by_kind[rule.kind.kind] = (*by_kind.get(rule.kind.kind, ()), rule)
        families = {f.name: f for f in self.families}
        problems = [] if len(families) == len(self.families) else ["two families share a name"]
        undeclared = [c.kind.kind for c in self.captures if c.kind not in self.kinds]
        problems += [f"a capture produces the undeclared kind {name}" for name in undeclared]
        problems += [f"a rule is for the undeclared kind {name}" for name in by_kind if name not in kinds]
        problems += [f"{name} has no rule" for name, rules in by_kind.items() if not rules]
        computed = [r.family for r in self.refill] + [w.family for w in self.warmers]
        used = [f for r in self.rules for f in r.bump] + computed
        problems += [f"{f.name} is used but not declared" for f in used if families.get(f.name) is not f]
        problems += [f"{f.name} is refilled or warmed but has no payload" for f in computed if f.payload is None]
        if problems:
            raise ValueError("invalid cache domain: " + "; ".join(problems))
        object.__setattr__(self, "families_by_name", families)
        object.__setattr__(self, "kinds_by_name", kinds)
        object.__setattr__(self, "rules_by_kind", by_kind)
        object.__setattr__(self, "captured_tables", tuple(dict.fromkeys(c.table for c in self.captures)))

    def warmer(self, name: str):
        for warmer in self.warmers:
            if warmer.name == name:
                return warmer
        raise KeyError(f"no warmer named {name!r}; declared: {', '.join(w.name for w in self.warmers)}")

    def extended(self, *, families=(), kinds=(), captures=(), rules=(), refill=(), warmers=()) -> "Domain":
        """This domain plus more declarations (a new Domain)."""
        return Domain(
            families=(*self.families, *families),
            kinds=(*self.kinds, *kinds),
            captures=(*self.captures, *captures),
            rules=(*self.rules, *rules),
            refill=(*self.refill, *refill),
            warmers=(*self.warmers, *warmers),
        )


# --- The loaded domain --------------------------------------------------------------------------------------

_current: Domain | None = None


def domain() -> Domain:
    """The domain in use (loaded by eventcache.apps when Django starts)."""
    if _current is None:
        raise RuntimeError("no cache domain is loaded: is eventcache in INSTALLED_APPS and EVENTCACHE_DOMAIN set?")
    return _current


def load(module_path: str) -> Domain:
    """Import `module_path` and use its DOMAIN."""
    loaded = importlib.import_module(module_path).DOMAIN
    if not isinstance(loaded, Domain):
        raise TypeError(f"{module_path}.DOMAIN is a {type(loaded).__name__}, not an eventcache.declare.Domain")
    install(loaded)
    return loaded


def install(new: Domain | None) -> None:
    global _current
    _current = new


@contextlib.contextmanager
def use(new: Domain):
    """Use `new` inside the block, then the domain in use before (tests declaring extra reads)."""
    previous = _current
    install(new)
    try:
        yield new
    finally:
        install(previous)
