"""Declared body fields: each one validates a value with api.validation's primitives AND describes that same
rule as JSON Schema, so the OpenAPI document (api.openapi) is generated from the code that enforces it.

A Body is a named set of fields; Body.clean(body) returns the fields that were sent (or their defaults), and
Body.schema() the request body's JSON Schema. A rule that JSON Schema cannot say exactly (a calendar day that
exists, a quantity's rounding) is stated in the field's description and enforced by the primitive.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from api import validation as v

# A string PostgreSQL can store (no NUL) with at least one character that is not whitespace: what
# validation.clean_text accepts before its length check.
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
NO_NUL = r"^[^\x00]*$"
DATE = r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
ID = r"^[1-9][0-9]{0,17}$"
ID_MAX = 2**63 - 1


@dataclass(frozen=True)
class Text:
    max_length: int
    required: bool = False
    allow_blank: bool = False
    strip: bool = True
    normalise: Callable | None = None  # the stored form (checked against max_length too)
    default: object = v.MISSING
    description: str = ""

    def clean(self, body: dict, name: str):
        return v.text(
            body,
            name,
            max_length=self.max_length,
            required=self.required,
            allow_blank=self.allow_blank,
            strip=self.strip,
            normalise=self.normalise,
            default=self.default,
        )

    def schema(self) -> dict:
        return text_schema(self.max_length, allow_blank=self.allow_blank, description=self.description)


def text_schema(max_length: int, *, allow_blank=False, description="") -> dict:
    schema = {"type": "string", "maxLength": max_length, "pattern": NO_NUL if allow_blank else NOT_BLANK}
    if not allow_blank:
        schema["minLength"] = 1
    if description:
        schema["description"] = description
    return schema


@dataclass(frozen=True)
class Integer:
    low: int
    high: int
    required: bool = False
    default: object = v.MISSING

    def clean(self, body: dict, name: str):
        return v.integer(body, name, low=self.low, high=self.high, required=self.required, default=self.default)

    def schema(self) -> dict:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Boolean:
    required: bool = False

    def clean(self, body: dict, name: str):
        return v.boolean(body, name, required=self.required)

    def schema(self) -> dict:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Choice:
    choices: tuple
    required: bool = False
    default: object = v.MISSING

    def clean(self, body: dict, name: str):
        return v.choice(body, name, self.choices, required=self.required, default=self.default)

    def schema(self) -> dict:
        return {"type": "string", "enum": sorted(self.choices)}


@dataclass(frozen=True)
class Date:
    required: bool = False

    def clean(self, body: dict, name: str):
        return v.date_field(body, name, required=self.required)

    def schema(self) -> dict:
        return date_schema()


def date_schema() -> dict:
    return {"type": "string", "format": "date", "pattern": DATE, "description": "YYYY-MM-DD, a day of the calendar"}


def quantity_schema() -> dict:
    return {
        "type": "number",
        "minimum": 0,
        "maximum": v.MAX_QUANTITY,
        "description": "stored rounded to 3 decimals",
    }


@dataclass(frozen=True)
class Quantity:
    default: object = v.MISSING

    def clean(self, body: dict, name: str):
        return v.quantity(body[name], name) if name in body else self.default

    def schema(self) -> dict:
        return quantity_schema()


@dataclass(frozen=True)
class Array:
    """A list of at most max_items; each item is cleaned by `item` (value, where) and described by item_schema."""

    max_items: int
    item: Callable
    item_schema: dict
    required: bool = False

    def clean(self, body: dict, name: str):
        raw = v.array(body, name, max_items=self.max_items, required=self.required)
        if raw is v.MISSING:
            return raw
        return [self.item(value, f"{name}[{index}]") for index, value in enumerate(raw)]

    def schema(self) -> dict:
        return {"type": "array", "maxItems": self.max_items, "items": self.item_schema}


@dataclass(frozen=True)
class Body:
    """A JSON object body: fields by name, cleaned in declaration order. Unknown fields are ignored."""

    fields: dict = field(default_factory=dict)
    description: str = ""

    def clean(self, body: dict, *, partial=False) -> dict:
        cleaned = {}
        for name, spec in self.fields.items():
            if partial and getattr(spec, "required", False):
                spec = _optional(spec)
            value = spec.clean(body, name)
            if value is not v.MISSING:
                cleaned[name] = value
        return cleaned

    def schema(self, *, partial=False) -> dict:
        schema = {"type": "object", "properties": {name: spec.schema() for name, spec in self.fields.items()}}
        required = [name for name, spec in self.fields.items() if getattr(spec, "required", False)]
        if required and not partial:
            schema["required"] = required
        if self.description:
            schema["description"] = self.description
        return schema


def _optional(spec):
    from dataclasses import replace

    return replace(spec, required=False)
