"""Beat jobs that keep values warm ahead of expiry (worker/tasks.py calls these).

Both replace values under a lease without dropping them first (readthrough.refresh), so readers keep
hitting meanwhile, and a concurrent invalidation voids the refresh instead of being overwritten by it.
"""

import logging
import random
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from eventcache.store import hotness, keys, readthrough

log = logging.getLogger("eventcache.warm")


def _payloads():
    from planner import payloads

    return payloads


def _refresh(key, compute, **kwargs) -> bool:
    try:
        return readthrough.refresh(key, compute, **kwargs)
    except ObjectDoesNotExist:  # the user went away since; nothing to keep warm
        return False


def refresh_hot_lists() -> int:
    """Recompute the shopping lists of the HOT_LISTS_TOP_N most read users; returns how many landed."""
    payloads = _payloads()
    refreshed = sum(
        _refresh(keys.shopping_lists(user_id), partial(payloads.shopping_lists, user_id))
        for user_id in hotness.hottest(settings.HOT_LISTS_TOP_N)
    )
    log.info("refreshed %d hot shopping lists", refreshed)
    return refreshed


def active_user_id_pages(page_size: int):
    """Ids of users who logged in within PREFERENCES_ACTIVE_DAYS, in keyset pages (bounded memory)."""
    since = timezone.now() - timedelta(days=settings.PREFERENCES_ACTIVE_DAYS)
    users = get_user_model().objects.filter(last_login__gte=since).order_by("pk")
    last_id = 0
    while ids := list(users.filter(pk__gt=last_id).values_list("pk", flat=True)[:page_size]):
        yield ids
        if len(ids) < page_size:
            return
        last_id = ids[-1]


def preferences_ttl() -> int:
    """24 h minus a random jitter in [0, PREFERENCES_TTL_JITTER_SECONDS], so refreshed values do not all
    expire in the same second."""
    return max(1, keys.PREFERENCES.ttl - random.randint(0, settings.PREFERENCES_TTL_JITTER_SECONDS))


def refresh_preferences() -> int:
    """Recompute the cached preferences of active users, PREFERENCES_REFRESH_CHUNK at a time."""
    payloads = _payloads()
    refreshed = 0
    for ids in active_user_id_pages(settings.PREFERENCES_REFRESH_CHUNK):
        for user_id in ids:
            compute = partial(payloads.preferences, user_id)
            refreshed += _refresh(keys.preferences(user_id), compute, ttl=preferences_ttl())
    log.info("refreshed the preferences of %d active users", refreshed)
    return refreshed
