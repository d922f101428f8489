"""The OpenAPI document is generated from the code: every route and method of api.urls is in it, every contract
entry names a real route, and the request schemas come from the same declarations that validate requests."""

import pytest

from api import bodies, openapi
from api.errors import ApiError
from api.openapi import contract, generate


def test_every_api_operation_is_documented():
    document = openapi.build()
    assert document["openapi"] == "3.1.0"
    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert ("/api/recipes/{recipe_id}/", "patch") in operations
    assert len(operations) == len(contract.OPERATIONS)
    unsafe = document["paths"]["/api/recipes/"]["post"]["security"]
    assert unsafe == [{"session": [], "csrf": [], "csrf_cookie": []}]
    assert document["paths"]["/api/auth/login/"]["post"]["security"] == []


def test_a_method_without_a_contract_fails_the_build(monkeypatch):
    monkeypatch.delitem(contract.OPERATIONS, ("api-recipe", "DELETE"))
    with pytest.raises(generate.MissingContract, match="DELETE of route 'api-recipe'"):
        openapi.build()


def test_request_schemas_are_the_validating_declarations():
    schema = bodies.RECIPE.schema()
    assert schema["required"] == ["title"]
    assert schema["properties"]["servings"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert "required" not in bodies.RECIPE.schema(partial=True)
    # The same declaration refuses what the schema refuses.
    with pytest.raises(ApiError):
        bodies.recipe({"title": "T", "servings": 101}, partial=False)
    assert bodies.recipe({"servings": 100}, partial=True) == {"servings": 100}
