"""Which cache keys a batch of events touches, from the domain's Rules (eventcache.declare.Rule).

primary_keys(events) -> Resolution   the keys the events name themselves and the families to bump; no database
resolve(events) -> Resolution        those, plus the dependents: ONE call of each batched look-up for all the
                                     events of the batch whose rules share it - never per event, never by
                                     scanning Redis (no KEYS, no SCAN)
"""

from collections.abc import Iterable
from dataclasses import dataclass

from eventcache import declare
from eventcache.declare import Family, Key


@dataclass(frozen=True)
class Resolution:
    keys: frozenset[Key] = frozenset()
    bump_families: frozenset[Family] = frozenset()

    def __or__(self, other: "Resolution") -> "Resolution":
        return Resolution(self.keys | other.keys, self.bump_families | other.bump_families)


def primary_keys(events: Iterable) -> Resolution:
    """The keys the events name themselves, plus namespace bumps: no database access."""
    rules_by_kind = declare.domain().rules_by_kind
    found, bump = set(), set()
    for event in events:
        for rule in rules_by_kind[event.kind]:
            found.update(rule.primary(event))
            bump.update(rule.bump)
    return Resolution(frozenset(found), frozenset(bump))


def resolve(events: Iterable) -> Resolution:
    """Every key the events touch and every family to bump, with one call of each dependents look-up for the
    whole batch."""
    events = list(events)
    rules_by_kind = declare.domain().rules_by_kind
    found, bump = set(), set()
    by_lookup: dict = {}
    for event in events:
        for rule in rules_by_kind[event.kind]:
            found.update(rule.primary(event))
            bump.update(rule.bump)
            if rule.dependents is not None:
                by_lookup.setdefault(rule.dependents, []).append(event)
    for lookup, group in by_lookup.items():
        found.update(lookup(group))
    return Resolution(frozenset(found), frozenset(bump))
