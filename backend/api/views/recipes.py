"""/api/recipes/ and /api/recipes/{id}/: cached reads for everyone logged in, writes by the author or staff."""

from django.db import transaction
from django.http import HttpResponse, JsonResponse

from api import bodies, dispatch, validation
from api.dispatch import cached_response, endpoint
from api.errors import ApiError, not_found_error
from api.identity import PlannedRead
from planner import cache, payloads
from planner.models import Recipe, RecipeIngredient, Tag


def _list_query(request):
    tag = request.GET.get("tag") or None
    page = validation.page_number(request)
    return tag, page, cache.recipe_list(tag, page)  # InvalidKeyPart (a tag with spaces, newlines, ...) -> 400


def _list(request, _me):
    tag, page, key = _list_query(request)
    try:
        return cached_response(dispatch.read(request, key, lambda: payloads.recipe_list(tag, page)))
    except (payloads.PageNotFound, payloads.TagNotFound) as exc:  # raised by the compute: nothing was cached
        raise not_found_error(str(exc)) from None


def _plan_list(request, _user_id):
    return PlannedRead(_list_query(request)[2])


def _detail(request, _me, recipe_id):
    rid = validation.path_id(recipe_id, "recipe_id")
    try:
        return cached_response(dispatch.read(request, cache.recipe(rid), lambda: payloads.recipe_detail(rid)))
    except Recipe.DoesNotExist:
        raise not_found_error(f"no recipe {rid}") from None


def _plan_detail(request, _user_id, recipe_id):
    return PlannedRead(cache.recipe(validation.path_id(recipe_id, "recipe_id")))


def _apply(recipe: Recipe, fields: dict) -> None:
    """Save the recipe's own fields, then replace its ingredient lines and tags when they were sent."""
    for name in ("title", "description", "servings", "prep_minutes"):
        if name in fields:
            setattr(recipe, name, fields[name])
    recipe.save()
    if "ingredients" in fields:
        recipe.ingredients.all().delete()
        RecipeIngredient.objects.bulk_create(
            [RecipeIngredient(recipe=recipe, position=i, **line) for i, line in enumerate(fields["ingredients"])]
        )
    if "tags" in fields:
        Tag.objects.bulk_create([Tag(name=name) for name in fields["tags"]], ignore_conflicts=True)
        recipe.tags.set(Tag.objects.filter(name__in=fields["tags"]))


def _create(request, me):
    fields = bodies.recipe(validation.json_object(request), partial=False)
    with transaction.atomic():
        recipe = Recipe(author_id=me["id"])
        _apply(recipe, fields)
    return JsonResponse(payloads.recipe_detail(recipe.id), status=201)


def _editable(rid: int, me: dict) -> Recipe:
    """The recipe, locked for this transaction, if the caller may change it; else 404 or 403."""
    recipe = Recipe.objects.select_for_update().filter(pk=rid).first()
    if recipe is None:
        raise not_found_error(f"no recipe {rid}")
    if recipe.author_id != me["id"] and not me["is_staff"]:
        raise ApiError(403, "forbidden", "only the recipe's author or staff may change it")
    return recipe


def _update(request, me, recipe_id, partial):
    rid = validation.path_id(recipe_id, "recipe_id")
    fields = bodies.recipe(validation.json_object(request), partial=partial)
    with transaction.atomic():
        _apply(_editable(rid, me), fields)
    return JsonResponse(payloads.recipe_detail(rid))


def _replace(request, me, recipe_id):
    return _update(request, me, recipe_id, partial=False)


def _patch(request, me, recipe_id):
    return _update(request, me, recipe_id, partial=True)


def _delete(request, me, recipe_id):
    rid = validation.path_id(recipe_id, "recipe_id")
    with transaction.atomic():
        _editable(rid, me).delete()
    return HttpResponse(status=204)


collection = endpoint(GET=_list, POST=_create, cached_get=_plan_list, serves_cached_body=True)
detail = endpoint(
    GET=_detail, PUT=_replace, PATCH=_patch, DELETE=_delete, cached_get=_plan_detail, serves_cached_body=True
)
