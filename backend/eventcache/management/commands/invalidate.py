"""`python backend/manage.py invalidate FAMILY` (or `all`): every key of the family becomes a miss, in
constant time (its namespace version is bumped; nothing is scanned). For deploys that change a value's shape.
Exits 1, naming the cache, when that cache is not Redis or Redis does not answer (eventcache/management/redis_target.py)."""

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from eventcache import declare
from eventcache.management.redis_target import require_redis
from eventcache.store.invalidation import invalidate_family


class Command(BaseCommand):
    help = "Invalidate every cached key of a key family (constant time), or of all families."

    def add_arguments(self, parser):
        families = declare.domain().families_by_name
        parser.add_argument("family", choices=[*families, "all"], help="key family name, or 'all'")

    def handle(self, *args, family, **options):
        families = declare.domain().families_by_name
        names = list(families) if family == "all" else [family]
        target = require_redis()
        for name in names:
            try:
                invalidate_family(name)
            except RedisError as exc:
                raise CommandError(
                    f"{name} keys NOT invalidated: {target} failed ({type(exc).__name__}: {exc})"
                ) from exc
            self.stdout.write(f"invalidated every {name} key ({families[name].pattern}) in {target}")
