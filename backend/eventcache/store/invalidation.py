"""Applying events to the cache: rules -> one Redis round trip -> re-fill the keys people wait for (the domain's
Refill declarations).

    apply_events(events) -> Applied        the worker, for each batch
    drop_primary_keys(events) -> int       the web process right after commit (read-your-writes)
    drop_touched(events) -> int            the worker's pub/sub listener, on publish: every key, no re-fill
    invalidate_family(name) -> Family      `manage.py invalidate NAME` (constant time)

Redis and database errors propagate: the worker's task retries the whole batch (it is idempotent).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist

from eventcache import declare
from eventcache.declare import Family, Key
from eventcache.store import hotness, ops, readthrough, rules, snapshots


@dataclass(frozen=True)
class Applied:
    events: int
    keys_dropped: int
    keys_prewarmed: int
    namespaces_bumped: int


def _prewarm_computes(resolution: rules.Resolution) -> dict[Key, object]:
    """The dropped keys to compute again at once, as the domain's Refills say: every touched key of a refilled
    family, or only those among the family's hottest."""
    refills = declare.domain().refill
    if not refills:
        return {}
    by_family: dict[Family, list[Key]] = {}
    for key in resolution.keys:
        by_family.setdefault(key.family, []).append(key)
    computes: dict[Key, object] = {}
    for refill in refills:
        touched = by_family.get(refill.family)
        if not touched:
            continue
        if refill.hottest is not None:
            hot = set(hotness.hottest(refill.family, refill.hottest()))
            touched = [key for key in touched if key in hot]
        computes.update((key, refill.family.compute(key)) for key in touched)
    return computes


def _refill(backend, leases: dict, computes: dict) -> int:
    """Compute each leased key and store it in one pipeline. A key whose row is gone is left empty; on any
    other error every lease is given back (readers then compute themselves) and the error propagates."""
    fills = []
    try:
        snapshot = snapshots.current() if leases and backend is ops else None
        for key, lease in leases.items():
            try:
                fills.append((key, lease, readthrough.compute_body(key, computes[key])))
            except ObjectDoesNotExist:
                backend.release(key, lease)
    except Exception:
        for key, lease in leases.items():
            backend.release(key, lease)
        raise
    return backend.fill_many(fills, snapshot=snapshot)


def apply_events(events: Iterable) -> Applied:
    events = list(events)
    resolution = rules.resolve(events, track=_per_key(events))
    computes = _prewarm_computes(resolution) if resolution.keys else {}
    backend = readthrough.cache_ops()
    leases = backend.invalidate_and_lease(
        resolution.keys, computes, resolution.bump_families, xids=_xids_for(resolution, events)
    )
    prewarmed = _refill(backend, leases, computes)
    return Applied(
        events=len(events),
        keys_dropped=len(resolution.keys),
        keys_prewarmed=prewarmed,
        namespaces_bumped=len(resolution.bump_families),
    )


def xids_of(events: list) -> list[int]:
    """The writing transactions' ids of the events (the invalidation then spares what was computed after them), or
    none when any event lacks them (SQLite, an older event, one standing for too many transactions): every pass then
    voids everything, as it always did."""
    found: set[int] = set()
    for event in events:
        xids = getattr(event, "xids", ())
        if not xids:
            return []
        found.update(xids)
    return sorted(found)


def _per_key(events: list) -> bool:
    """Whether to check each key against its own writes' xids: for a batch small enough that
    ops.invalidate_and_lease runs one script per distinct set. A larger one gets the whole batch's xids for every
    key, as ops would merge them anyway, without the per-event cost of the per-key sets (the worker's large batches
    are its throughput)."""
    return len(events) <= ops.XID_GROUPS_MAX


def _xids_for(resolution: rules.Resolution, events: list):
    return xids_by_target(resolution) if _per_key(events) else xids_of(events)


def xids_by_target(resolution: rules.Resolution) -> dict:
    """Key or family -> the xids of the events that touch it (store/ops.py spares a value whose snapshot saw them
    all); none for one touched by an event without them, which is then voided as it always was. A look-up's
    group is one tuple shared by all its dependents, so each distinct list of groups is merged once."""
    merged: dict[tuple[int, ...], tuple[int, ...]] = {}  # ids of a target's groups -> their xids
    found: dict = {}
    for target, groups in resolution.touched_by.items():
        ids = tuple(id(group) for group in groups)
        if ids not in merged:
            merged[ids] = _xids_of_groups(groups)
        found[target] = merged[ids]
    return found


def _xids_of_groups(groups) -> tuple[int, ...]:
    xids: set[int] = set()
    for group in groups:
        group_xids = getattr(group[0], "xids", ()) if len(group) == 1 else xids_of(list(group))
        if not group_xids:
            return ()
        xids.update(group_xids)
    return tuple(sorted(xids))


def drop_primary_keys(events: Iterable, *, then_publish=()) -> int:
    """Drop the keys the events name themselves (and bump namespaces): one round trip, no database. With Redis,
    `then_publish` ((channel, message) pairs) goes out in the same round trip, after the drop."""
    events = list(events)
    resolution = rules.primary_keys(events, track=_per_key(events))
    readthrough.cache_ops().invalidate(
        resolution.keys, resolution.bump_families, then_publish=then_publish, xids=_xids_for(resolution, events)
    )
    return len(resolution.keys)


def drop_touched(events: Iterable) -> int:
    """Drop every key the events touch (their dependents too: one database look-up per rule, as in
    apply_events) and bump namespaces, in one Redis round trip, without re-filling anything: what the worker's
    pub/sub listener does the moment an event is published, so the keys are gone without waiting for the queue
    (eventcache/consume/listener.py)."""
    events = list(events)
    resolution = rules.resolve(events, track=_per_key(events))
    readthrough.cache_ops().invalidate(resolution.keys, resolution.bump_families, xids=_xids_for(resolution, events))
    return len(resolution.keys)


def invalidate(keys_to_drop: Iterable[Key], bump_families: Iterable[Family] = ()) -> None:
    """Drop these keys (and their leases) and bump these namespaces, in one round trip."""
    readthrough.cache_ops().invalidate(keys_to_drop, bump_families)


def invalidate_family(name: str) -> Family:
    """Every key of the family becomes a miss, in constant time (its namespace version is bumped)."""
    families = declare.domain().families_by_name
    family = families.get(name)
    if family is None:
        raise ValueError(f"unknown key family {name!r}; one of: {', '.join(families)}")
    readthrough.cache_ops().bump_namespace(family)
    return family
