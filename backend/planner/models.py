"""The recipe planner's domain. Every table here is captured by database triggers (eventcache/capture/triggers.py),
so any write to it, however it is made, becomes an event in the same transaction."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Family(models.Model):
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="FamilyMembership", related_name="families")

    class Meta:
        verbose_name_plural = "families"

    def __str__(self):
        return self.name


class FamilyMembership(models.Model):
    """A user belongs to at most one family."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="memberships")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")

    def __str__(self):
        return f"{self.user} in {self.family}"


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    def __str__(self):
        return self.name


class Recipe(models.Model):
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recipes")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    servings = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1), MaxValueValidator(100)])
    prep_minutes = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(24 * 60)])
    tags = models.ManyToManyField(Tag, blank=True, related_name="recipes")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Which demo recipe this is (seed_demo finds it by this, so renaming it does not make the next seed add another).
    seed_key = models.CharField(max_length=80, null=True, blank=True, editable=False)  # noqa: DJ001 (None: not a demo recipe)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Partial, so SQLite adds it as an index instead of rebuilding the table (which drops its triggers).
            models.UniqueConstraint(
                fields=["seed_key"], condition=models.Q(seed_key__isnull=False), name="planner_recipe_unique_seed_key"
            )
        ]

    def __str__(self):
        return self.title


class Unit(models.TextChoices):
    GRAM = "g"
    KILOGRAM = "kg"
    MILLILITRE = "ml"
    LITRE = "l"
    TEASPOON = "tsp"
    TABLESPOON = "tbsp"
    CUP = "cup"
    PIECE = "piece"


def normalise_name(value: str) -> str:
    """An ingredient name as stored: whitespace collapsed, lower-cased. Lower-casing can make a name longer
    ("İ" becomes "i" + U+0307), so lengths are checked on this form, against the column's max_length."""
    return " ".join(value.split()).lower()


class NormalisedIngredientMixin:
    """`ingredient` is stored normalised (normalise_name); model validation (the admin's forms) checks it in
    that form, so a name that only outgrows its column once lowered is a form error, not a database error."""

    def clean_fields(self, exclude=None):
        if isinstance(self.ingredient, str):
            self.ingredient = normalise_name(self.ingredient)
        super().clean_fields(exclude)

    def save(self, *args, **kwargs):
        self.ingredient = normalise_name(self.ingredient)
        super().save(*args, **kwargs)


class RecipeIngredient(NormalisedIngredientMixin, models.Model):
    """One ingredient line of a recipe. `ingredient` is a normalised (lower-case, trimmed) name."""

    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="ingredients")
    ingredient = models.CharField(max_length=100)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, validators=[MinValueValidator(0)])
    unit = models.CharField(max_length=8, choices=Unit.choices)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["recipe_id", "position", "id"]

    def __str__(self):
        return f"{self.quantity} {self.unit} {self.ingredient}"


class MealPlan(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="meal_plans")
    date = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["family", "date"], name="one_meal_plan_per_family_and_day")]
        ordering = ["date"]

    def __str__(self):
        return f"{self.family} {self.date}"


class Meal(models.TextChoices):
    BREAKFAST = "breakfast"
    LUNCH = "lunch"
    DINNER = "dinner"
    SNACK = "snack"


class MealPlanEntry(models.Model):
    meal_plan = models.ForeignKey(MealPlan, on_delete=models.CASCADE, related_name="entries")
    meal = models.CharField(max_length=16, choices=Meal.choices)
    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="meal_plan_entries")
    servings = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1), MaxValueValidator(100)])

    class Meta:
        ordering = ["meal_plan_id", "id"]
        verbose_name_plural = "meal plan entries"

    def __str__(self):
        return f"{self.meal}: {self.recipe_id}"


class ShoppingList(models.Model):
    """A user's list over a date range. Its generated lines are computed on read from the family's
    meal plans in the range (planner/shopping.py); only manual items and checked flags are stored."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shopping_lists")
    name = models.CharField(max_length=100, blank=True)
    start = models.DateField()
    end = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="list_end_after_start")
        ]

    def __str__(self):
        return self.name or f"{self.start}..{self.end}"


class ShoppingListItem(NormalisedIngredientMixin, models.Model):
    """A stored line of a list: a manual item, or the checked state of a generated (ingredient, unit) line.
    `ingredient` is normalised like a recipe's, so a manual item and a generated line of one name match."""

    shopping_list = models.ForeignKey(ShoppingList, on_delete=models.CASCADE, related_name="items")
    ingredient = models.CharField(max_length=100)
    unit = models.CharField(max_length=8, choices=Unit.choices)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, default=0)  # manual items only
    manual = models.BooleanField(default=False)
    checked = models.BooleanField(default=False)

    class Meta:
        ordering = ["shopping_list_id", "ingredient", "unit", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shopping_list", "ingredient", "unit"],
                condition=models.Q(manual=False),
                name="one_generated_line_state_per_ingredient_and_unit",
            )
        ]

    def __str__(self):
        return f"{self.ingredient} ({self.unit})"


class Diet(models.TextChoices):
    OMNIVORE = "omnivore"
    VEGETARIAN = "vegetarian"
    VEGAN = "vegan"
    PESCATARIAN = "pescatarian"


class UnitSystem(models.TextChoices):
    METRIC = "metric"
    IMPERIAL = "imperial"


class UserPreferences(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    diet = models.CharField(max_length=16, choices=Diet.choices, default=Diet.OMNIVORE)
    default_servings = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    unit_system = models.CharField(max_length=8, choices=UnitSystem.choices, default=UnitSystem.METRIC)
    disliked_ingredients = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "user preferences"

    def __str__(self):
        return f"preferences of {self.user}"
