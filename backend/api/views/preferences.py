"""/api/preferences/: the caller's preferences (cached; defaults when none are stored) and PATCH."""

from django.db import transaction
from django.http import JsonResponse

from api import bodies, dispatch, validation
from api.dispatch import cached_response, endpoint
from api.identity import PlannedRead
from planner import cache, payloads
from planner.models import UserPreferences


def _show(request, me):
    uid = me["id"]
    return cached_response(dispatch.read(request, cache.preferences(uid), lambda: payloads.preferences(uid)))


def _plan_show(request, user_id):
    return PlannedRead(cache.preferences(user_id))


def _patch(request, me):
    fields = bodies.preferences(validation.json_object(request))
    with transaction.atomic():
        prefs, _ = UserPreferences.objects.select_for_update().get_or_create(user_id=me["id"])
        for name, value in fields.items():
            setattr(prefs, name, value)
        prefs.save()
    return JsonResponse(payloads.preferences_dict(prefs))


preferences = endpoint(GET=_show, PATCH=_patch, cached_get=_plan_show, serves_cached_body=True)
