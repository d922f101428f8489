"""The JSON API's routes (mounted at /api/). Path parts are taken as strings and validated by the views,
so a malformed id or date answers 400 rather than a generic 404. Anything else under /api/ is a JSON 404."""

from django.urls import path, re_path

from api.errors import not_found
from api.views import auth, docs, meal_plans, preferences, recipes, shopping_lists

urlpatterns = [
    path("schema/", docs.schema, name="api-schema"),  # OpenAPI 3.1, generated from the code (api.openapi)
    path("docs/", docs.docs, name="api-docs"),  # Swagger UI over it
    path("auth/login/", auth.login, name="api-login"),
    path("auth/logout/", auth.logout, name="api-logout"),
    path("me/", auth.me, name="api-me"),
    path("recipes/", recipes.collection, name="api-recipes"),
    path("recipes/<str:recipe_id>/", recipes.detail, name="api-recipe"),
    path("meal-plans/<str:day>/", meal_plans.day, name="api-meal-plan"),
    path("shopping-lists/", shopping_lists.collection, name="api-shopping-lists"),
    path("shopping-lists/<str:list_id>/", shopping_lists.detail, name="api-shopping-list"),
    path("shopping-lists/<str:list_id>/regenerate/", shopping_lists.regenerate, name="api-shopping-list-regenerate"),
    path("shopping-lists/<str:list_id>/items/", shopping_lists.items, name="api-shopping-list-items"),
    path("shopping-lists/<str:list_id>/items/<str:item_id>/", shopping_lists.item, name="api-shopping-list-item"),
    path("preferences/", preferences.preferences, name="api-preferences"),
    re_path(r"", not_found),  # unknown /api/ paths: JSON 404 even with DEBUG on (never an HTML page or redirect)
]
