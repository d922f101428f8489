"""The relay on the SQLite fallback (no DATABASE_URL, as `make run` without PostgreSQL): a request's write is
delivered by the time the response is out, and a write outside a request at once, with no errors from the commit
hook. SQLite has no writer's notices (relay/notices.py): the commit looks its rows up, and the notice bookkeeping
must stay out of the way (a sqlite3 connection cannot even be weakly referenced).

Runs the real settings module in a subprocess on a fresh SQLite file; no REDIS_URL, so the cache is local memory and
events are applied inline."""

import pytest

from tests.fixtures.sqlite import run_on_sqlite

pytestmark = pytest.mark.integration

SCRIPT = r"""
import json, logging
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)

errors = []
class Collect(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.ERROR:
            errors.append(record.getMessage())
logging.getLogger("django").addHandler(Collect())
logging.getLogger("eventcache").addHandler(Collect())

from django.core.signals import request_finished, request_started
from eventcache.models import OutboxEvent
from planner.models import Recipe
from tests.factories import FamilyFactory, RecipeFactory, UserFactory

recipe = RecipeFactory(author=UserFactory(family=FamilyFactory()))  # outside a request (INSERT ... RETURNING: left
# to the next flush on SQLite, relay/watcher.py), then a write outside a request that is flushed at once
Recipe.objects.filter(pk=recipe.pk).update(title="edited outside a request")
outside = OutboxEvent.objects.filter(processed_at__isnull=True).count()
request_started.send(sender=None)
Recipe.objects.filter(pk=recipe.pk).update(title="edited in a request")
request_finished.send(sender=None)
print(json.dumps({"errors": errors, "unprocessed_outside": outside,
                  "unprocessed": OutboxEvent.objects.filter(processed_at__isnull=True).count(),
                  "rows": OutboxEvent.objects.count()}))
"""


def test_a_request_and_a_plain_write_are_delivered_on_sqlite(tmp_path):
    outcome = run_on_sqlite(SCRIPT, tmp_path)
    assert outcome["errors"] == [], outcome
    assert outcome["rows"] > 1 and outcome["unprocessed_outside"] == 0 and outcome["unprocessed"] == 0, outcome
