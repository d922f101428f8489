"""The worker rides out a lost Redis broker connection instead of exiting (issue 12, item 2).

Works around kombu's Redis transport restoring unacknowledged messages from a connection Celery has already
released: on a lost connection Celery's consumer collects the connection (which clears its transport's client)
and then closes it; closing the channel runs kombu's QoS.restore_unacked_once, which needs a new Redis client,
whose parameters come from the released transport: AttributeError("'NoneType' object has no attribute
'hostname'"), which Celery does not count as a connection error, so the worker exits ("Unrecoverable error").
A task that was running in a pool process meanwhile fails the same way when it finishes after the reconnection:
its acknowledgement goes to the released channel. The same failure from a released transport:
https://github.com/celery/kombu/issues/582 (and the restore on close failing: https://github.com/celery/kombu/issues/970).
It needs a message delivered but not acknowledged when the connection goes, which with writes going on is a task
in flight.

That restore is a second copy of a guarantee Redis already keeps: kombu's ack emulation records every delivered
message in the broker's `unacked` hash until it is acknowledged, and restores it from there after the visibility
timeout (restore_visible, any worker); the outbox sweep re-sends its rows, and worker/backlog.py applies them when
the consumer reconnects. So this consumer bootstep
- switches the channel's restore-on-close off (the channel's public `do_restore` flag) for as long as the consumer
  runs, and back on when it stops with its connection still live (a warm shutdown, which still hands its reserved
  messages back at once);
- on a reconnection, marks the requests still running from the released channel as acknowledged (Request's public
  `acknowledged` flag), so their end does not reach for that channel; their messages stay in the unacked hash.

It does nothing on RabbitMQ (the transport's driver_type is "amqp"): there is no client-side unacked hash or
restore-on-close; the broker itself requeues a closed channel's unacknowledged deliveries, and an acknowledgement
sent through a closed channel is simply lost (the redelivered message is applied again, which is harmless).
"""

import logging

from celery import bootsteps
from celery.worker import state

logger = logging.getLogger("worker.broker_loss")


def _released(message) -> bool:
    """The message came through a channel whose connection has been closed (kombu clears its `connection`)."""
    channel = getattr(message, "channel", None)
    return channel is not None and getattr(channel, "connection", None) is None


class KeepUnackedInRedis(bootsteps.StartStopStep):
    """Consumer step: no restore-on-close while consuming; kombu's usual restore on a clean stop."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        super().__init__(c, **kwargs)
        self.channels: list = []

    def start(self, c):
        if c.connection.transport.driver_type != "redis":
            return
        released = [r for r in list(state.active_requests) if not r.acknowledged and _released(r.message)]
        for request in released:
            request.acknowledged = True
        if released:
            logger.warning(
                "%d task(s) still running from a lost broker connection: their messages stay unacknowledged in Redis "
                "(restored after the visibility timeout; their outbox rows are applied at once)",
                len(released),
            )
        self.channels = list({id(ch): ch for ch in (c.connection.default_channel, c.task_consumer.channel)}.values())
        for channel in self.channels:
            channel.do_restore = False

    def stop(self, c):
        if c.connection is not None:  # stopping with a live connection (a warm shutdown): kombu can restore
            for channel in self.channels:
                channel.do_restore = True
        self.channels = []
