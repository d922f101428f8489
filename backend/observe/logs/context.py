"""The current request id: set for a request (web) or for the batch a task is applying (worker)."""

import logging
import re
import uuid
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # what a client may choose; anything else gets a new id


def new_or_given(given: str | None) -> str:
    return given if given and _SANE.fullmatch(given) else uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (None outside a request or batch)."""

    def filter(self, record):
        record.request_id = request_id.get()
        return True
