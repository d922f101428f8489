"""`python backend/manage.py invalidate FAMILY` (or `all`): every key of the family becomes a miss, in
constant time (its namespace version is bumped; nothing is scanned). For deploys that change a value's shape."""

from django.core.management.base import BaseCommand

from eventcache import declare
from eventcache.store.invalidation import invalidate_family


class Command(BaseCommand):
    help = "Invalidate every cached key of a key family (constant time), or of all families."

    def add_arguments(self, parser):
        families = declare.domain().families_by_name
        parser.add_argument("family", choices=[*families, "all"], help="key family name, or 'all'")

    def handle(self, *args, family, **options):
        families = declare.domain().families_by_name
        for name in list(families) if family == "all" else [family]:
            invalidate_family(name)
            self.stdout.write(f"invalidated every {name} key ({families[name].pattern})")
