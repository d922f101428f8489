"""A role that one process at a time holds, as a lease in Redis: the listener's drop on publish (one worker of K
drops each event; the others stand by) and beat (a second beat waits instead of doubling the schedule).

    lease = RoleLease("listener", term_seconds, renew_seconds)
    lease.hold() -> bool      take the role if it is free, or keep it another term if it is ours (one round trip)
    lease.due() -> bool       time to call hold() again (every renew_seconds)
    lease.release()           give it up at a clean stop, so a stand-by takes it at its next try

The lease is one key, `role:{name}`, holding the holder's token (host:pid:random, so an operator sees who holds
it) with a PX expiry of one term. The holder renews it every renew_seconds by compare-and-renew
(lua/role_hold.lua); a stand-by tries the same script every renew_seconds and gets the role once the key is gone.
A holder that dies or loses Redis stops renewing: the key expires within one term and a stand-by that reaches
Redis takes over, so the role is vacant for at most term + renew_seconds. A holder whose renewal finds the key
gone or another's has lost the role and stops acting on it. Giving it up is compare-and-delete
(lua/role_release.lua). One key is one hash slot: the same on a Redis Cluster.

Not a mutex for correctness: what the roles do is idempotent (a drop, a periodic task), so two holders for a moment
(a holder stalled past its term) cost duplicated work, never a wrong cache; the Celery queue applies every event
whoever holds the listener's role.
"""

import logging
import os
import socket
import time
import uuid

from eventcache.store import ops, scripts

logger = logging.getLogger("eventcache.consume.lease")


class RoleLease:
    def __init__(self, name: str, term_seconds: float, renew_seconds: float):
        if not 0 < renew_seconds < term_seconds:
            raise ValueError(
                f"role {name!r}: renew every {renew_seconds} s must be within its term of {term_seconds} s"
            )
        self.name = name
        self.term_ms = int(term_seconds * 1000)
        self.renew_seconds = renew_seconds
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.held = False
        self._next_try = 0.0

    @property
    def key(self) -> str:
        return ops.full_name(f"role:{self.name}")

    def due(self) -> bool:
        return time.monotonic() >= self._next_try

    def hold(self) -> bool:
        """Take or keep the role; False when another process holds it. Redis errors propagate (the role is then
        taken as lost: it expires unless renewed)."""
        self._next_try = time.monotonic() + self.renew_seconds
        try:
            held = bool(scripts.run("role_hold", [self.key], [self.token, self.term_ms], ops.connection()))
        except Exception:
            self._lost("Redis did not answer")
            raise
        if held and not self.held:
            logger.info("%s role taken by %s (term %d ms)", self.name, self.token, self.term_ms)
        elif self.held and not held:
            self._lost("another process holds it now")
        self.held = held
        return held

    def holder(self) -> str | None:
        """The token of whoever holds the role now (operators, tests)."""
        value = ops.connection().get(self.key)
        return value.decode() if isinstance(value, bytes) else value

    def release(self) -> None:
        """Give the role up if it is ours; errors are logged (the lease then expires on its own)."""
        if not self.held:
            return
        self.held = False
        try:
            scripts.run("role_release", [self.key], [self.token], ops.connection())
        except Exception as exc:  # noqa: BLE001 - a stopping process must not fail here; the term ends it anyway
            logger.warning("%s role not given up (%r); it expires within %d ms", self.name, exc, self.term_ms)
        else:
            logger.info("%s role given up by %s", self.name, self.token)

    def _lost(self, why: str) -> None:
        if self.held:
            self.held = False
            logger.warning("%s role lost by %s: %s", self.name, self.token, why)
