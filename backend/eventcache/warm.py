"""The domain's warmers (eventcache.declare.RefreshHot / RefreshPages), run by beat through the worker's tasks.

    run(name) -> int     run the warmer declared under `name`; returns how many values landed

Both kinds replace values under a lease without dropping them first (readthrough.refresh), so readers keep
hitting meanwhile, and a concurrent invalidation voids the refresh instead of being overwritten by it.
"""

import logging

from django.core.exceptions import ObjectDoesNotExist

from eventcache import declare
from eventcache.declare import Key, RefreshHot, RefreshPages
from eventcache.store import hotness, readthrough

log = logging.getLogger("eventcache.warm")


def _refresh(key: Key, **kwargs) -> bool:
    try:
        return readthrough.refresh(key, key.family.compute(key), **kwargs)
    except ObjectDoesNotExist:  # the row went away since; nothing to keep warm
        return False


def refresh_hot(warmer: RefreshHot) -> int:
    """Recompute the family's top_n() hottest keys."""
    return sum(_refresh(key) for key in hotness.hottest(warmer.family, warmer.top_n()))


def refresh_pages(warmer: RefreshPages) -> int:
    """Recompute every key the warmer's pages name, each with the warmer's TTL (or the family's)."""
    refreshed = 0
    for page in warmer.pages():
        for values in page:
            options = {} if warmer.ttl is None else {"ttl": warmer.ttl()}
            refreshed += _refresh(warmer.family.key(**values), **options)
    return refreshed


def run(name: str) -> int:
    warmer = declare.domain().warmer(name)
    refreshed = refresh_hot(warmer) if isinstance(warmer, RefreshHot) else refresh_pages(warmer)
    log.info("%s: refreshed %d %s value(s)", name, refreshed, warmer.family.name)
    return refreshed
