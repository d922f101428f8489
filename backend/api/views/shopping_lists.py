"""/api/shopping-lists/...: the caller's lists (cached, kept warm when hot), creating and regenerating a list,
adding manual items and checking items off. Another user's list or item answers 404, never 403.

All of a user's lists are one cached value, so what one user can make it cost is capped: at most
SHOPPING_LISTS_MAX_PER_USER lists (409 beyond), of at most SHOPPING_LIST_MAX_DAYS days (400), with at most
SHOPPING_LIST_MAX_MANUAL_ITEMS manual items each (409). With the caps the whole answer is bounded, so GET
answers every list in one body (one key, served by the fast path) rather than in pages.
"""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpResponse, JsonResponse

from api import bodies, dispatch, validation
from api.dispatch import cached_response, endpoint
from api.errors import ApiError, not_found_error
from api.identity import PlannedRead
from planner import cache, payloads, shopping
from planner.models import ShoppingList, ShoppingListItem


def _plan_all(request, user_id, list_id=None):
    """The read of GET (one list or all): the caller's lists, counted as a read of a hot list."""
    if list_id is not None:
        validation.path_id(list_id, "list_id")
    return PlannedRead(cache.shopping_lists(user_id))


def _read_all(request, me):
    uid = me["id"]
    return dispatch.read(request, cache.shopping_lists(uid), lambda: payloads.shopping_lists(uid))


def _list(request, me):
    return cached_response(_read_all(request, me))


def _limit_reached(detail: str) -> ApiError:
    return ApiError(409, "limit_reached", detail)


def _create(request, me):
    fields = bodies.shopping_list(validation.json_object(request))
    cap = settings.SHOPPING_LISTS_MAX_PER_USER
    with transaction.atomic():
        # The user's row, locked: parallel creates are counted one after the other, so none passes the cap.
        list(get_user_model().objects.select_for_update().filter(pk=me["id"]).values_list("pk", flat=True))
        if ShoppingList.objects.filter(owner_id=me["id"]).count() >= cap:
            raise _limit_reached(f"at most {cap} shopping lists per user; delete one first")
        created = shopping.create_list(me["id"], me["family_id"], **fields)
    return JsonResponse(shopping.list_dicts([created], me["family_id"])[0], status=201)


def _owned_list(me, list_id: str, *, lock=False) -> ShoppingList:
    lid = validation.path_id(list_id, "list_id")
    lists = ShoppingList.objects.select_for_update() if lock else ShoppingList.objects
    found = lists.filter(pk=lid, owner_id=me["id"]).first()
    if found is None:
        raise not_found_error("no such shopping list")
    return found


def _show(request, me, list_id):
    """One list, served from the cached lists of the caller (no database on a hit)."""
    lid = validation.path_id(list_id, "list_id")
    result = _read_all(request, me)
    for item in json.loads(result.body)["results"]:
        if item["id"] == lid:
            response = JsonResponse(item)
            response["X-Cache"] = "HIT" if result.hit else "MISS"
            return response
    raise not_found_error("no such shopping list")


def _delete(request, me, list_id):
    _owned_list(me, list_id).delete()
    return HttpResponse(status=204)


def _regenerate(request, me, list_id):
    with transaction.atomic():
        shopping_list = _owned_list(me, list_id, lock=True)
        shopping.regenerate(shopping_list, me["family_id"])
    return JsonResponse(shopping.list_dicts([shopping_list], me["family_id"])[0])


def _add_item(request, me, list_id):
    fields = bodies.manual_item(validation.json_object(request))
    cap = settings.SHOPPING_LIST_MAX_MANUAL_ITEMS
    with transaction.atomic():
        shopping_list = _owned_list(me, list_id, lock=True)  # parallel adds are counted one after the other
        if shopping_list.items.filter(manual=True).count() >= cap:
            raise _limit_reached(f"at most {cap} manual items per list")
        row = ShoppingListItem.objects.create(shopping_list=shopping_list, manual=True, **fields)
    return JsonResponse(shopping.manual_item_dict(row), status=201)


def _update_item(request, me, list_id, item_id):
    lid = validation.path_id(list_id, "list_id")
    iid = validation.path_id(item_id, "item_id")
    fields = bodies.item_update(validation.json_object(request))
    updated = ShoppingListItem.objects.filter(pk=iid, shopping_list_id=lid, shopping_list__owner_id=me["id"]).update(
        **fields
    )
    if not updated:
        raise not_found_error("no such item")
    row = ShoppingListItem.objects.get(pk=iid)
    if row.manual:
        return JsonResponse(shopping.manual_item_dict(row))
    # A generated line's quantity is computed from the plans (see GET); the row holds only its state.
    return JsonResponse(
        {"id": row.id, "ingredient": row.ingredient, "unit": row.unit, "checked": row.checked, "manual": False}
    )


collection = endpoint(GET=_list, POST=_create, cached_get=_plan_all, serves_cached_body=True)
# One list cut out of the cached lists: not the stored body, so never answered by api.fast_path.
detail = endpoint(GET=_show, DELETE=_delete, cached_get=_plan_all)
regenerate = endpoint(POST=_regenerate)
items = endpoint(POST=_add_item)
item = endpoint(PATCH=_update_item)
