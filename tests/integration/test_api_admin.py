"""planner/admin.py: every planner model has an admin whose list, add and change pages render."""

import pytest
from django.contrib import admin
from django.urls import reverse

from planner import models

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PLANNER_MODELS = [
    models.Family,
    models.FamilyMembership,
    models.Tag,
    models.Recipe,
    models.RecipeIngredient,
    models.MealPlan,
    models.MealPlanEntry,
    models.ShoppingList,
    models.ShoppingListItem,
    models.UserPreferences,
]


def test_every_model_is_registered():
    assert all(admin.site.is_registered(m) for m in PLANNER_MODELS)


def test_admin_pages_render(client, household, make_user, make_recipe, plan_meal, fast_passwords):
    import datetime as dt

    from planner import shopping

    boss = make_user("boss", is_staff=True, is_superuser=True)
    recipe = make_recipe(household["ann"], tags=["soup"])
    plan_meal(household["family"], dt.date(2026, 1, 1), recipe)
    shopping.create_list(household["ann"].id, household["family"].id, dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    models.UserPreferences.objects.create(user=household["ann"])
    client.force_login(boss)
    for model in PLANNER_MODELS:
        info = (model._meta.app_label, model._meta.model_name)
        assert client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200, model
        assert client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 200, model
        obj = model.objects.first()
        assert client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk])).status_code == 200, model
