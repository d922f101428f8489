"""The store's operations on a Redis Cluster, where a script or a MULTI may only touch one hash slot.

ops.py calls these instead of its one-round-trip forms when its connection is a RedisCluster (REDIS_CLUSTER_URL);
the single-Redis path is unchanged. The key scheme is the same for both (eventcache/store/keys.py): a value and its
lease share the key's hash tag, a family's namespace version, bumped-xids set and hot set share the family's, and the
stats hash is a slot of its own. So on a cluster:

- A read is two scripts: lua/family_read.lua (the namespace version, and the hot-set count) on the family's slot,
  then lua/read_at_ns.lua (the value or a lease, under that version) on the key's, then the hit/miss count (HINCRBY).
  A value is served only when its stored version equals the version read just before: a bump that lands between
  the two is ordered after this read, and a lease taken under the older version fills a value no later read
  accepts (it carries the version it was leased under). The stale-set guarantee is the single Redis's.
- A logged-in read is the session GET, then the identity's read, then the value's (authenticated_read.lua's checks,
  in Python): three reads instead of one round trip.
- An invalidation runs lua/invalidate_seen.lua once per slot (keys and families grouped by RedisCluster.keyslot),
  then the re-fill leases (lua/drop_and_lease.lua, under the namespace read after the bumps), then PUBLISHes: the
  subscribers hear of an event only after its keys are gone, as on one Redis. Without xids the drops and bumps are
  plain commands in one cluster pipeline (redis-py sends them to each node in parallel).

Pipelines on a cluster cannot carry scripts or PUBLISH (redis-py refuses them), so those are one call each.
"""

import json
import secrets
from collections.abc import Mapping

from redis.cluster import RedisCluster
from redis.crc import key_slot

from eventcache.declare import Family, Key
from eventcache.store import hotness, keys
from eventcache.store.cluster_client import LazyClusterClient


def on_cluster(client) -> bool:
    return isinstance(client, (RedisCluster, LazyClusterClient))


def _ops():
    from eventcache.store import ops

    return ops


def current_ns(family: Family, *, count_member: str | None = None) -> str:
    """The family's namespace version (created when missing); with `count_member`, the read counted as hot."""
    ops = _ops()
    names = [keys.namespace(family)]
    args = [ops._fresh_ns()]
    if count_member is not None and family.hot:
        names += hotness.script_key_names(family)
        args += hotness.script_args(count_member)
    return ops._text(ops.run_script("family_read", ops.full_names(*names), args))


def read_or_lease(key: Key, *, count: bool = True):
    ops = _ops()
    family = key.family
    ns = current_ns(family, count_member=family.member(key) if count else None)
    token = secrets.token_hex(8)
    reply = ops.run_script("read_at_ns", ops.full_names(key.name, keys.lease(key)), [token, ops._lease_ms(), ns])
    result = ops._read_result(reply, token)
    if count:
        outcome = "hits" if result.body is not None else "misses"
        ops.connection().hincrby(ops.full_name(keys.STATS), f"{family.name}:{outcome}", 1)
    return result


def read_authenticated(session_name: str, user_id: int, identity_key: Key, value_key: Key | None):
    """ops.read_authenticated as separate reads, with lua/authenticated_read.lua's checks between them."""
    ops = _ops()
    session = ops.connection().get(ops.full_name(session_name))
    if session is None:
        return ops.AuthenticatedRead(session=None, identity=None, value=None)
    data = _json(session)
    if not isinstance(data, dict) or data.get("_auth_user_id") != str(user_id):
        return ops.AuthenticatedRead(session=bytes(session), identity=None, value=None)
    identity = read_or_lease(identity_key)
    if value_key is None or identity.body is None:
        return ops.AuthenticatedRead(session=bytes(session), identity=identity, value=None)
    who = _json(identity.body)
    if (
        not isinstance(who, dict)
        or who.get("is_active") is not True
        or not isinstance(who.get("session_hash"), str)
        or who.get("session_hash") != data.get("_auth_user_hash")
    ):
        return ops.AuthenticatedRead(session=bytes(session), identity=identity, value=None)
    return ops.AuthenticatedRead(session=bytes(session), identity=identity, value=read_or_lease(value_key))


def _json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def take_lease(key: Key, token: str):
    """The namespace version when `key`'s lease is now `token`'s, else None (someone holds it)."""
    ops = _ops()
    ns = current_ns(key.family)
    if ops.connection().set(ops.full_name(keys.lease(key)), token, nx=True, px=ops._lease_ms()):
        return ns
    return None


def fill_many(calls: list[tuple[list, list]]) -> int:
    ops = _ops()
    return sum(1 for script_keys, args in calls if ops.run_script("fill_if_lease", script_keys, args))


def publish_all(client, messages) -> None:
    """PUBLISH each (channel, message): a cluster broadcasts it to every node, so a subscriber on any node hears it."""
    for channel, message in messages:
        client.publish(channel, message)


def invalidate_and_lease(drop: list, lease_keys: list, bump_families: list, then_publish, xids) -> dict:
    """ops.invalidate_and_lease on a cluster. `xids` is the writes' transaction ids, or a mapping from each key or
    family to its own (per-target ids: each group of targets with the same ids is invalidated under them; targets
    with none are dropped unconditionally). PUBLISH comes after the last group."""
    if isinstance(xids, Mapping):
        groups: dict[tuple, tuple[list, list, list]] = {}
        for part, targets in enumerate((drop, lease_keys, bump_families)):
            for target in targets:
                groups.setdefault(tuple(sorted(xids.get(target, ()))), ([], [], []))[part].append(target)
        leased: dict = {}
        for n, (group_xids, (group_drop, group_lease, group_bump)) in enumerate(groups.items()):
            publish = then_publish if n == len(groups) - 1 else []
            leased.update(invalidate_and_lease(group_drop, group_lease, group_bump, publish, group_xids))
        if not groups:
            publish_all(_ops().connection(), then_publish)
        return leased
    ops = _ops()
    client = ops.connection()
    xid_text = ",".join(str(int(xid)) for xid in xids)
    leasing = set(lease_keys)
    drop = [key for key in drop if key not in leasing]  # drop_and_lease.lua drops those, atomically with the lease
    if xids:
        _invalidate_seen_per_slot(client, drop, bump_families, xid_text)
    else:
        pipe = client.pipeline(transaction=False)
        for key in drop:
            pipe.delete(ops.full_name(key.name))
            pipe.delete(ops.full_name(keys.lease(key)))
        for family in bump_families:
            # SET NX then INCR, as on one Redis; no MULTI (the two keys are one slot, but nothing deletes a version
            # between them except an eviction, which the clock-based re-creation covers anyway).
            pipe.set(ops.full_name(keys.namespace(family)), ops._fresh_ns(), nx=True)
            pipe.incr(ops.full_name(keys.namespace(family)))
        if drop or bump_families:
            pipe.execute()
    leased = {}
    namespaces = {family: current_ns(family) for family in dict.fromkeys(key.family for key in lease_keys)}
    for key in lease_keys:
        token = secrets.token_hex(8)
        ns = ops.run_script(
            "drop_and_lease",
            ops.full_names(key.name, keys.lease(key)),
            [token, ops._lease_ms(), namespaces[key.family], xid_text],
        )
        if ns is not None:
            leased[key] = ops.Lease(token=token, ns=ops._text(ns))
    publish_all(client, then_publish)
    return leased


def _invalidate_seen_per_slot(client, drop: list, bump_families: list, xid_text: str) -> None:
    """lua/invalidate_seen.lua once per hash slot, with that slot's keys to drop and families to bump."""
    ops = _ops()
    groups: dict[int, tuple[list, list]] = {}
    for key in drop:
        groups.setdefault(key_slot(ops.full_name(key.name).encode()), ([], []))[0].append(key)
    for family in bump_families:
        groups.setdefault(key_slot(ops.full_name(keys.namespace(family)).encode()), ([], []))[1].append(family)
    for slot_drop, slot_families in groups.values():
        script_keys = ops.full_names(*[name for key in slot_drop for name in (key.name, keys.lease(key))])
        script_keys += ops.full_names(
            *[name for family in slot_families for name in (keys.namespace(family), keys.bumped_xids(family))]
        )
        args = [len(slot_drop), len(slot_families), 0, xid_text, ops._fresh_ns(), ops._lease_ms()]
        args.append(ops.BUMPED_XIDS_KEPT)
        ops.run_script("invalidate_seen", script_keys, args)


# --- What the health check, metrics and dashboards read of the server(s) --------------------------------------------


def worst_info(client, section: str | None = None) -> dict:
    """INFO (of `section`) of the one Redis, or on a cluster of the master nearest its maxmemory (the most used
    memory when none has a limit): a cluster is as healthy as its fullest shard, which refuses writes first."""
    if not on_cluster(client):
        return client.info(section) if section else client.info()
    infos = list(client.info(section, target_nodes=RedisCluster.PRIMARIES).values())

    def fullness(info: dict) -> tuple[float, int]:
        used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
        return (used / limit if limit else 0.0, used)

    return max(infos, key=fullness)


def key_count(client) -> int:
    """DBSIZE of the one Redis, or the sum over the cluster's masters."""
    if not on_cluster(client):
        return int(client.dbsize())
    sizes = client.dbsize(target_nodes=RedisCluster.PRIMARIES)
    return int(sum(sizes.values())) if isinstance(sizes, dict) else int(sizes)


def slowlog(client, entries: int) -> list:
    """SLOWLOG GET of the one Redis, or every master's, slowest first."""
    if not on_cluster(client):
        return client.slowlog_get(entries)
    found = client.slowlog_get(entries, target_nodes=RedisCluster.PRIMARIES)
    merged = [entry for node in found.values() for entry in node] if isinstance(found, dict) else list(found)
    return sorted(merged, key=lambda entry: entry["duration"], reverse=True)[:entries]
