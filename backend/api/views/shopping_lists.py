"""/api/shopping-lists/...: the caller's lists (cached, kept warm when hot), creating and regenerating a list,
adding manual items and checking items off. Another user's list or item answers 404, never 403.

What one user can make a read cost is capped: at most SHOPPING_LISTS_MAX_PER_USER lists (409 beyond), of at most
SHOPPING_LIST_MAX_DAYS days (400), with at most SHOPPING_LIST_MAX_MANUAL_ITEMS manual items each (409). GET answers
them SHOPPING_LISTS_PAGE_SIZE at a time, `?page=N`, shaped like the recipe pages ({"count", "next", "previous",
"results"}); each page is one cached value (served by the fast path on a hit), and the cap bounds a user's pages.
A malformed page is a 400; a page past the user's last is a 404 and caches nothing.
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


def _plan_page(request, user_id):
    """The read of GET: the page asked for, counted as a read of a hot page. None (no read planned before the
    identity) for a page no cached key can hold."""
    page = validation.page_number(request)
    return PlannedRead(cache.shopping_lists(user_id, page)) if page <= cache.shopping_lists_max_pages() else None


def _plan_detail(request, user_id, list_id):
    """The read of GET of one list: the first page of the caller's lists (where it is looked for first)."""
    validation.path_id(list_id, "list_id")
    return PlannedRead(cache.shopping_lists(user_id))


def _read_page(request, me, page: int):
    uid, size = me["id"], settings.SHOPPING_LISTS_PAGE_SIZE
    return dispatch.read(request, cache.shopping_lists(uid, page), lambda: payloads.shopping_lists(uid, page, size))


def _list(request, me):
    page = validation.page_number(request)
    try:
        if page > cache.shopping_lists_max_pages():
            # Only lists made past the cap (admin, SQL) reach here: answered from the database, never cached.
            return _json_response(payloads.shopping_lists(me["id"], page, settings.SHOPPING_LISTS_PAGE_SIZE), False)
        return cached_response(_read_page(request, me, page))
    except payloads.PageNotFound as exc:  # raised by the compute: nothing was cached
        raise not_found_error(str(exc)) from None


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
    """One list, found in the cached pages of the caller's lists, first page first (no database when they are
    hits); a list those pages do not show (another user's, a deleted one, one moved by a concurrent write, one past
    the cap) is looked up in the database."""
    lid = validation.path_id(list_id, "list_id")
    hit = True
    for page in range(1, cache.shopping_lists_max_pages() + 1):
        try:
            result = _read_page(request, me, page)
        except payloads.PageNotFound:  # a list removed meanwhile shortened the pages
            break
        hit = hit and result.hit
        shown = json.loads(result.body)
        for item in shown["results"]:
            if item["id"] == lid:
                return _json_response(item, hit)
        if shown["next"] is None:
            break
    found = _owned_list(me, list_id)
    return _json_response(shopping.list_dicts([found], me["family_id"])[0], False)


def _json_response(body: dict, hit: bool) -> JsonResponse:
    response = JsonResponse(body)
    response["X-Cache"] = "HIT" if hit else "MISS"
    return response


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


collection = endpoint(GET=_list, POST=_create, cached_get=_plan_page, serves_cached_body=True)
# One list cut out of the cached pages: not the stored body, so never answered by api.fast_path.
detail = endpoint(GET=_show, DELETE=_delete, cached_get=_plan_detail)
regenerate = endpoint(POST=_regenerate)
items = endpoint(POST=_add_item)
item = endpoint(PATCH=_update_item)
