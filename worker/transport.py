"""kombu's Redis transport (eventcache/broker.py's, which publishes without building a redis-py client per message),
made to survive a queue item that is not a kombu message.

kombu's Redis channel pops an item (BRPOP) and JSON-decodes its envelope before any Celery hook sees it. An item
that is not JSON, or JSON that is not an envelope, raises out of the event loop and stops the worker
("Unrecoverable error: JSONDecodeError", celery/celery#1113; kombu#2421 is the same for SQS). The item is already
off the list by then, so dropping it loses nothing that could ever have been processed: this transport logs it,
counts it ("queue_rejected") and goes on. Everything that is a well-formed envelope (including one carrying pickle,
which Celery refuses by content type) goes through kombu unchanged; see worker/rejections.py.
"""

import binascii
import logging
from base64 import b64decode
from json import JSONDecodeError

from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import str_to_bytes

from eventcache import broker
from worker.rejections import count_rejected_message

logger = logging.getLogger("worker.transport")


def is_envelope(message) -> bool:
    """The shape kombu's virtual Message needs: a dict with properties carrying a delivery tag, a decodable body."""
    if not isinstance(message, dict) or not isinstance(message.get("properties"), dict):
        return False
    properties = message["properties"]
    if "delivery_tag" not in properties or not isinstance(properties.get("delivery_info", {}), dict):
        return False
    if message.get("body") and properties.get("body_encoding") == "base64":
        try:
            b64decode(str_to_bytes(message["body"]))
        except (binascii.Error, TypeError, ValueError):
            return False
    return True


def _drop(reason, raw) -> None:
    logger.warning("queue item that is not a kombu message dropped (%s): %.200r", reason, raw)
    count_rejected_message()


class Channel(broker.Channel):
    def _brpop_read(self, **options):
        try:
            return super()._brpop_read(**options)
        except JSONDecodeError as exc:  # kombu decodes bytes with errors="replace", so JSON is the only failure
            _drop(exc, exc.doc)
            raise kombu_redis.Empty() from None

    def _get(self, queue):
        try:
            return super()._get(queue)
        except JSONDecodeError as exc:  # kombu decodes bytes with errors="replace", so JSON is the only failure
            _drop(exc, exc.doc)
            raise kombu_redis.Empty() from None


class Transport(broker.Transport):
    Channel = Channel

    def _deliver(self, message, queue):
        if not is_envelope(message):
            _drop("not an envelope", message)
            return
        super()._deliver(message, queue)
