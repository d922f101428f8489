"""Django admin for every planner model. Admin edits are ordinary ORM writes, so the database triggers
turn them into cache-invalidation events like any other write."""

from django.contrib import admin

from planner.models import (
    Family,
    FamilyMembership,
    MealPlan,
    MealPlanEntry,
    Recipe,
    RecipeIngredient,
    ShoppingList,
    ShoppingListItem,
    Tag,
    UserPreferences,
)


class FamilyMembershipInline(admin.TabularInline):
    model = FamilyMembership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Family)
class FamilyAdmin(admin.ModelAdmin):
    list_display = ["id", "name"]
    search_fields = ["name"]
    inlines = [FamilyMembershipInline]


@admin.register(FamilyMembership)
class FamilyMembershipAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "family"]
    list_select_related = ["user", "family"]
    autocomplete_fields = ["user", "family"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["id", "name"]
    search_fields = ["name"]


class RecipeIngredientInline(admin.TabularInline):
    model = RecipeIngredient
    extra = 1


@admin.register(Recipe)
class RecipeAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "author", "servings", "prep_minutes", "updated_at"]
    list_select_related = ["author"]
    list_filter = ["tags"]
    search_fields = ["title"]
    filter_horizontal = ["tags"]
    autocomplete_fields = ["author"]
    inlines = [RecipeIngredientInline]


@admin.register(RecipeIngredient)
class RecipeIngredientAdmin(admin.ModelAdmin):
    list_display = ["id", "recipe", "ingredient", "quantity", "unit"]
    list_select_related = ["recipe"]
    search_fields = ["ingredient"]
    autocomplete_fields = ["recipe"]


class MealPlanEntryInline(admin.TabularInline):
    model = MealPlanEntry
    extra = 1
    autocomplete_fields = ["recipe"]


@admin.register(MealPlan)
class MealPlanAdmin(admin.ModelAdmin):
    list_display = ["id", "family", "date"]
    list_select_related = ["family"]
    list_filter = ["family"]
    date_hierarchy = "date"
    inlines = [MealPlanEntryInline]


@admin.register(MealPlanEntry)
class MealPlanEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "meal_plan", "meal", "recipe", "servings"]
    list_select_related = ["meal_plan__family", "recipe"]
    autocomplete_fields = ["recipe"]


class ShoppingListItemInline(admin.TabularInline):
    model = ShoppingListItem
    extra = 1


@admin.register(ShoppingList)
class ShoppingListAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "name", "start", "end"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    inlines = [ShoppingListItemInline]


@admin.register(ShoppingListItem)
class ShoppingListItemAdmin(admin.ModelAdmin):
    list_display = ["id", "shopping_list", "ingredient", "quantity", "unit", "manual", "checked"]
    list_select_related = ["shopping_list"]
    list_filter = ["manual", "checked"]


@admin.register(UserPreferences)
class UserPreferencesAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "diet", "default_servings", "unit_system"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
