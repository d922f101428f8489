"""Structured logs (LOG_FORMAT=json): one JSON line per request (observe.logs.wsgi, around the whole WSGI app, so
answers of api.fast_path count too) and per worker batch (observe.logs.tasks), each carrying a request id.

The request id (the client's X-Request-ID when it is a sane token, else a new one; echoed in the response) rides
along with the request's events: the Celery message the relay sends after the response gets it as a message header
(Celery's before_task_publish signal), and the worker's batch line names it. So a write is followed from its
request line to the batch that applied it by one id, with no change to the event format or the outbox."""
