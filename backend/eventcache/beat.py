"""Beat's scheduler with the `beat` role (consume/lease.py): of any number of beat processes, only the one holding
the role sends periodic tasks; the others stand by, send nothing, and take over within BEAT_LEASE_SECONDS +
BEAT_RENEW_SECONDS when the holder dies (a deploy that starts the new beat before the old one stops, a second
beat started by mistake).

    CELERY_BEAT_SCHEDULER = "eventcache.beat:LeasedScheduler"

Celery's in-memory Scheduler with one check per tick: the role is renewed (or tried for) every BEAT_RENEW_SECONDS,
and a tick that does not hold it sends nothing. A holder that cannot reach Redis stops sending too (it cannot
renew; another beat that can takes over once its lease expires). Without Redis (no REDIS_URL: one process, an
in-memory broker) it is the plain Scheduler. A taken-over schedule starts from the stand-by's own start: entries
whose period passed meanwhile run at once, each once.
"""

import logging

from celery.beat import Scheduler
from django.conf import settings
from redis.exceptions import RedisError

from eventcache.consume.lease import RoleLease
from eventcache.store import ops

logger = logging.getLogger("eventcache.beat")


class LeasedScheduler(Scheduler):
    def __init__(self, *args, **kwargs):
        self.lease = (
            RoleLease("beat", settings.BEAT_LEASE_SECONDS, settings.BEAT_RENEW_SECONDS) if ops.uses_redis() else None
        )
        self._standing_by = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if self.lease is None:
            return super().tick(*args, **kwargs)
        if not self._holds_role(self.lease):
            return self.lease.renew_seconds
        return min(super().tick(*args, **kwargs), self.lease.renew_seconds)

    def _holds_role(self, lease: RoleLease) -> bool:
        if lease.held and not lease.due():
            return True
        try:
            held = lease.hold()
        except RedisError as exc:
            logger.warning("beat: the beat role could not be renewed (%r): sending nothing until it is", exc)
            return False
        if not held and not self._standing_by:
            logger.warning(
                "beat: another beat holds the beat role (%s): this one sends nothing until that one stops",
                lease.holder(),
            )
        self._standing_by = not held
        return held

    def close(self):
        if self.lease is not None:
            self.lease.release()
        super().close()
