"""The relay: from outbox rows to Redis, right after commit, and again from the sweep if that failed.

watcher.py   an execute-wrapper notices a transaction wrote to captured tables; commit.after_commit runs once
             on its commit
commit.py    after a commit: in a request, drop the primary keys now (read-your-writes) and PUBLISH, send to the
             queue after the response; elsewhere, flush at once. request_started/request_finished state
publish.py   pub/sub + the process_events send (.apply_async); flush and the claim-then-deliver loop
sweep.py     beat: deliver rows the writer never sent, re-send unconfirmed ones, prune, vacuum
recovery.py  apply every pending event inline when Redis comes back
outbox.py    the outbox's SQL (claims, marks), and the relaxed-durability commit of that bookkeeping
dedup.py     rows -> events, one per distinct (kind, data) (the worker's batches use it too)
signals.py   `delivering`, sent before committed rows are handed to Redis and the broker
"""
