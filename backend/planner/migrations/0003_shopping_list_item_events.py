"""Shopping-list item writes now produce "shopping_list.item_changed" events naming the list and its rank (planner/cache.py
CAPTURES), so only the page showing the list is dropped: the capture triggers are installed again (CREATE OR REPLACE)."""

from django.db import migrations


def install(apps, schema_editor):
    from eventcache.capture import triggers

    triggers.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("planner", "0002_recipe_seed_key"),
        ("events", "0007_outbox_xid"),
    ]

    # Reversing leaves the triggers of the code that runs (the previous code's migrate installs its own).
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
