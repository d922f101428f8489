"""The HTTP half of the peers scenario: the same views served by gunicorn for ours, cacheops, cachalot and no
cache at all, the floor (a WSGI app answering a constant, same gunicorn settings) and a bare Redis GET.

One client sends requests one at a time, round by round over every server, so drift hits all alike. Server
time is gunicorn's own (%(D)s in the access log, matched by the request's tag header)."""

import functools

from bench import harness, seed
from bench.http import Client
from bench.stats import now_ns, summarize_ms, summarize_ns

SERVERS = {
    "ours": {"CACHE_READS_ENABLED": 1},
    "no cache": {"CACHE_READS_ENABLED": 0, "API_FAST_PATH": 0},
    "cacheops": {"DJANGO_SETTINGS_MODULE": "bench.peers.settings_cacheops"},
    "cachalot": {"DJANGO_SETTINGS_MODULE": "bench.peers.settings_cachalot"},
}


def _stats(summary) -> dict:
    return {"p50_ms": summary.median_ms, "p99_ms": summary.p99_ms, "n": summary.n}


def _redis_get(n: int) -> dict:
    import redis
    from django.conf import settings

    conn = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    conn.set("peers:floor", b'{"id":1,"title":"constant"}')
    for _ in range(50):
        conn.get("peers:floor")
    samples = []
    for _ in range(n):
        start = now_ns()
        conn.get("peers:floor")
        samples.append(now_ns() - start)
    conn.delete("peers:floor")
    conn.close()
    return _stats(summarize_ns(samples))


def _server_factories(workdir) -> dict:
    """Our gunicorns (one per setting of SERVERS) and the floor's constant app, for harness.started_together."""
    factories = {
        name: functools.partial(harness.WebServer, f"peers-web-{name.replace(' ', '-')}", workdir, **env)
        for name, env in SERVERS.items()
    }
    factories["floor"] = functools.partial(
        harness.WebServer, "peers-web-floor", workdir, app="bench.peers.floor:application"
    )
    return factories


def _ok(resp, what):
    if resp.status != 200:
        raise harness.BenchError(f"{what} answered {resp.status}: {resp.body[:300]!r}")
    return resp


def measure(ctx, world) -> dict:
    rounds, per_round = ctx.size((15, 20), (3, 10))
    recipe_id, day = world.recipe_ids[0], world.week[0].isoformat()
    reads = {"recipe detail": f"/api/recipes/{recipe_id}/", "meal plan, one day": f"/api/meal-plans/{day}/"}
    with harness.started_together(**_server_factories(ctx.workdir)) as started:
        floor = started.pop("floor")
        servers = started
        me = Client(servers["ours"].url)
        me.login(world.username, seed.PASSWORD)
        clients = {name: me if name == "ours" else Client(s.url).use_session_of(me) for name, s in servers.items()}
        floor_client = Client(floor.url)
        tags = {(read, name): [] for read in reads for name in servers}
        client_ns = {(read, name): [] for read in reads for name in servers}
        floor_tags, floor_ns, ours_cache = [], [], []
        for _ in range(3):  # warm-up: connections, imports, first fills
            for path in reads.values():
                for c in clients.values():
                    _ok(c.get(path), path)
            floor_client.get("/")
        for _ in range(rounds):
            for read, path in reads.items():
                for name, c in clients.items():
                    for _ in range(per_round):
                        r = _ok(c.get(path), f"{name} {path}")
                        tags[(read, name)].append(r.tag)
                        client_ns[(read, name)].append(r.client_ns)
                        if name == "ours":
                            ours_cache.append(r.headers.get("x-cache", "-"))
            for _ in range(per_round):
                r = _ok(floor_client.get("/"), "floor")
                floor_tags.append(r.tag)
                floor_ns.append(r.client_ns)
        times = {}
        for s in [*servers.values(), floor]:
            times |= s.server_times_ms()
    out = {"reads": {}, "client": {}, "ours_hits": ours_cache.count("HIT") / max(1, len(ours_cache))}
    for read in reads:
        out["reads"][read] = {
            name: _stats(summarize_ms([times[t] for t in tags[(read, name)] if t in times])) for name in servers
        }
        out["client"][read] = {name: _stats(summarize_ns(client_ns[(read, name)])) for name in servers}
    out["floor"] = {
        "redis_get": _redis_get(ctx.size(5000, 500)),
        "wsgi": _stats(summarize_ms([times[t] for t in floor_tags if t in times])),
        "wsgi_client": _stats(summarize_ns(floor_ns)),
    }
    return out
