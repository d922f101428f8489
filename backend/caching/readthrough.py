"""PLACEHOLDER (replaced by the caching work): the read-through interface the API codes against.

    read(key, compute, *, hot_user_id=None) -> CacheRead(body: bytes, hit: bool)

`compute()` returns the JSON-ready payload; `body` is its JSON encoding (what the API sends as is).
"""

import json
from dataclasses import dataclass

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder


@dataclass(frozen=True)
class CacheRead:
    body: bytes
    hit: bool


def read(key, compute, *, hot_user_id=None) -> CacheRead:
    body = cache.get(key.name)
    if body is not None:
        return CacheRead(body.encode(), True)
    body = json.dumps(compute(), cls=DjangoJSONEncoder, separators=(",", ":"))
    cache.set(key.name, body, key.ttl)
    return CacheRead(body.encode(), False)
