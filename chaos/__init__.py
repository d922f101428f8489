"""The chaos soak (`make chaos`): the whole stack as subprocesses, HTTP writers and readers, a fault driver that
kills and restarts web, worker, beat and Redis, and a checker that compares every read with the writes' history.

It depends only on the outside of the system: the process commands (Procfile, or `make show-commands`), the HTTP
API, and SQL on events_outbox. It imports nothing from backend/ or worker/, so it survives their reorganisation.
"""
