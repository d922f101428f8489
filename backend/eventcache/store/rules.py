"""Which cache keys a batch of events touches, from the domain's Rules (eventcache.declare.Rule).

primary_keys(events) -> Resolution   the keys the events name themselves and the families to bump; no database
resolve(events) -> Resolution        those, plus the dependents: ONE call of each batched look-up for all the
                                     events of the batch whose rules share it - never per event, never by
                                     scanning Redis (no KEYS, no SCAN)

A Resolution also says which events touch each key and family (`touched_by`): an event its own primary keys and
bumps, a batched look-up's whole group every dependent it returns. The invalidation spares a value computed after
every write that touches its key (store/invalidation.py), not after every write of the batch.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from eventcache import declare
from eventcache.declare import Family, Key


@dataclass(frozen=True)
class Resolution:
    keys: frozenset[Key] = frozenset()
    bump_families: frozenset[Family] = frozenset()
    # key or family -> the groups of events that touch it: an event alone, or a look-up's whole group, one shared
    # tuple for all its dependents (compare=False: two resolutions of the same keys are equal)
    touched_by: Mapping[Key | Family, list[tuple]] = field(default_factory=dict, compare=False)

    def __or__(self, other: "Resolution") -> "Resolution":
        touched: dict[Key | Family, list[tuple]] = {target: list(groups) for target, groups in self.touched_by.items()}
        for target, groups in other.touched_by.items():
            touched.setdefault(target, []).extend(groups)
        return Resolution(self.keys | other.keys, self.bump_families | other.bump_families, touched)


def _note(touched: dict, targets: Iterable, events: tuple) -> None:
    for target in targets:
        touched.setdefault(target, []).append(events)


def primary_keys(events: Iterable, *, track: bool = False) -> Resolution:
    """The keys the events name themselves, plus namespace bumps: no database access. `track`: fill touched_by."""
    return _resolve(events, lookups=False, track=track)


def resolve(events: Iterable, *, track: bool = False) -> Resolution:
    """Every key the events touch and every family to bump, with one call of each dependents look-up for the
    whole batch. `track`: fill touched_by (a cost per event the worker's large batches skip)."""
    return _resolve(events, lookups=True, track=track)


def _resolve(events: Iterable, *, lookups: bool, track: bool) -> Resolution:
    rules_by_kind = declare.domain().rules_by_kind
    found, bump = set(), set()
    touched: dict[Key | Family, list[tuple]] = {}
    by_lookup: dict = {}
    for event in events:
        for rule in rules_by_kind[event.kind]:
            primary = rule.primary(event)
            found.update(primary)
            bump.update(rule.bump)
            if track:
                _note(touched, [*primary, *rule.bump], (event,))
            if lookups and rule.dependents is not None:
                by_lookup.setdefault(rule.dependents, []).append(event)
    for lookup, group in by_lookup.items():
        dependents = list(lookup(group))
        found.update(dependents)
        if track:
            _note(touched, dependents, tuple(group))
    return Resolution(frozenset(found), frozenset(bump), touched)
