"""Middleware tuned for the JSON API."""

from django.contrib.messages.middleware import MessageMiddleware


class AdminOnlyMessageMiddleware(MessageMiddleware):
    """Django's messages (flash messages of the admin) everywhere except under /api/: the API never uses them,
    and setting up their storage (a cookie store with its signer, and a session store) on every request
    is a measurable share of a cached read. Responses of requests without messages are left untouched, as by
    MessageMiddleware itself. A subclass, so the admin's check for MessageMiddleware is still satisfied."""

    def process_request(self, request):
        if not request.path_info.startswith("/api/"):
            super().process_request(request)
