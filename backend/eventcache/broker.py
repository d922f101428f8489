"""kombu's Redis transport for publishing: one redis-py client per channel instead of one per message.

kombu builds a new redis-py client for every synchronous call on a channel - for every task message a web
process sends - and with redis-py 8 building one (it fills ~170 response callbacks) costs more CPU than the
LPUSH it sends (~80 us of ~400 us per send_task, measured with cProfile). Keeping one per channel, on the
channel's current connection pool, does the same work: redis-py clients are thread-safe, and a new pool after
a reconnect gets a new client. The relay's producer (eventcache/relay.py) and the worker (worker/transport.py,
which builds on this) use it for redis:// brokers; rediss:// keeps kombu's own transport.
"""

from kombu.transport import redis as kombu_redis

TRANSPORT = "eventcache.broker:Transport"


class Channel(kombu_redis.Channel):
    _sync_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._sync_client
        if client is None or client.connection_pool is not self.pool:
            client = self._sync_client = super()._create_client()
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel
