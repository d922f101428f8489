"""The one set of test factories (factory_boy): every test that needs planner rows builds them here.

Each factory makes one row and what it cannot exist without (a recipe's author, a plan's family); the extras a test
may want are keyword arguments read by post-generation hooks, so one call reads like the data it makes:

    family = FamilyFactory(name="Smiths")
    ann = UserFactory(username="ann", password=PASSWORD, family=family)
    soup = RecipeFactory(author=ann, ingredients=[("peas", "500", "g")], tags=["soup"])
    MealPlanFactory(family=family, date=DAY, entries=[(soup, 2)])
    ShoppingListFactory(owner=ann, start=DAY)

Every row goes through the ORM (save() or bulk_create), so the database triggers write its events as a real write
does. The composed worlds tests use (household, family_world, three_families, world) are in tests/fixtures/worlds.py.
"""

import datetime as dt
from decimal import Decimal

import factory
from django.conf import settings
from factory.django import DjangoModelFactory

PASSWORD = "correct horse battery staple"  # the password tests log in with, when they give a user one
DAY = dt.date(2030, 1, 7)  # a Monday inside the test settings' meal-plan window


class UserFactory(DjangoModelFactory):
    """A user through the manager's create_user (as sign-up does): `password` is hashed, and a user made without
    one has an unusable password. `family=` makes the user a member of that family."""

    class Meta:
        model = settings.AUTH_USER_MODEL
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return cls._get_manager(model_class).create_user(*args, **kwargs)

    @factory.post_generation
    def family(self, create, extracted, **kwargs):
        if create and extracted is not None:
            FamilyMembershipFactory(user=self, family=extracted)


class FamilyFactory(DjangoModelFactory):
    class Meta:
        model = "planner.Family"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"family {n}")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        """FamilyFactory(members=[user, ...]) makes each of them a member."""
        for user in extracted or ():
            FamilyMembershipFactory(user=user, family=self)


class FamilyMembershipFactory(DjangoModelFactory):
    class Meta:
        model = "planner.FamilyMembership"

    family = factory.SubFactory(FamilyFactory)
    user = factory.SubFactory(UserFactory)


class TagFactory(DjangoModelFactory):
    class Meta:
        model = "planner.Tag"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class RecipeFactory(DjangoModelFactory):
    """A recipe. `ingredients=[(name, quantity, unit), ...]` adds its lines in that order (one bulk insert, as the
    API's writes do); `tags=["soup", ...]` tags it (tags are found or made by name)."""

    class Meta:
        model = "planner.Recipe"
        skip_postgeneration_save = True

    author = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Recipe {n}")
    servings = 4

    @factory.post_generation
    def ingredients(self, create, extracted, **kwargs):
        if not create or not extracted:
            return
        from planner.models import RecipeIngredient, normalise_name

        RecipeIngredient.objects.bulk_create(
            [
                RecipeIngredient(
                    recipe=self, ingredient=normalise_name(name), quantity=Decimal(str(qty)), unit=unit, position=pos
                )
                for pos, (name, qty, unit) in enumerate(extracted)
            ]
        )

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted is not None:
            self.tags.set([TagFactory(name=name) for name in extracted])


class RecipeIngredientFactory(DjangoModelFactory):
    class Meta:
        model = "planner.RecipeIngredient"

    recipe = factory.SubFactory(RecipeFactory)
    ingredient = factory.Sequence(lambda n: f"ingredient {n}")
    quantity = Decimal("1")
    unit = "g"


class MealPlanFactory(DjangoModelFactory):
    """A family's plan of one day (found when it exists: one plan per family and day). `entries=[(recipe,
    servings), (recipe, servings, meal), ...]` plans those meals on it (dinner unless a meal is named)."""

    class Meta:
        model = "planner.MealPlan"
        django_get_or_create = ("family", "date")
        skip_postgeneration_save = True

    family = factory.SubFactory(FamilyFactory)
    date = DAY

    @factory.post_generation
    def entries(self, create, extracted, **kwargs):
        for recipe, servings, *meal in extracted or ():
            MealPlanEntryFactory(meal_plan=self, recipe=recipe, servings=servings, meal=meal[0] if meal else "dinner")


class MealPlanEntryFactory(DjangoModelFactory):
    class Meta:
        model = "planner.MealPlanEntry"

    meal_plan = factory.SubFactory(MealPlanFactory)
    meal = "dinner"
    recipe = factory.SubFactory(RecipeFactory)
    servings = 4


class ShoppingListFactory(DjangoModelFactory):
    """A user's list over start..end (one day unless `end` is given). `items=[(name, quantity, unit), ...]` adds
    manual items."""

    class Meta:
        model = "planner.ShoppingList"
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    name = ""
    start = DAY
    end = factory.SelfAttribute("start")

    @factory.post_generation
    def items(self, create, extracted, **kwargs):
        for name, quantity, unit in extracted or ():
            ShoppingListItemFactory(shopping_list=self, ingredient=name, quantity=quantity, unit=unit)


class ShoppingListItemFactory(DjangoModelFactory):
    class Meta:
        model = "planner.ShoppingListItem"

    shopping_list = factory.SubFactory(ShoppingListFactory)
    ingredient = factory.Sequence(lambda n: f"item {n}")
    unit = "g"
    quantity = Decimal("1")
    manual = True


class UserPreferencesFactory(DjangoModelFactory):
    class Meta:
        model = "planner.UserPreferences"

    user = factory.SubFactory(UserFactory)
