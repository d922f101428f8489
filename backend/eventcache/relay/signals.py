"""The relay's public signal.

delivering(sender, rows): committed outbox rows are about to be handed to Redis and the broker, in the process
that wrote them (sender: "commit", the request's commit or an on-commit flush) or that swept them ("sweep").
`rows` is a list of eventcache.relay.outbox.OutboxRow. Nothing has been published for them yet: a receiver sees
each event before any subscriber or worker can (for observability, and for the tests that kill the process right
there).
Sending it costs nothing when no receiver is connected.
"""

from django.dispatch import Signal

delivering = Signal()
