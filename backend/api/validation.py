"""Parsing and validating what a client sends: JSON bodies, path parts and query parameters.

Every function either returns a clean Python value or raises ApiError (400, or 413 for an oversized
body), so no client input can reach the database in a shape that makes it fail. Strings are refused when
PostgreSQL could not store them (NUL characters, lone surrogates). Unknown body fields are ignored.
"""

import datetime as dt
import json
import math
import re
from decimal import Decimal

from django.core.exceptions import RequestDataTooBig
from django.http.request import RawPostDataException

from api.errors import bad_input, too_large_error

_ID = re.compile(r"[1-9][0-9]{0,17}")  # fits PostgreSQL bigint
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PAGE = re.compile(r"[1-9][0-9]{0,8}")
MISSING = object()
MAX_QUANTITY = 9999999.999  # DecimalField(max_digits=10, decimal_places=3)


# --- bodies ----------------------------------------------------------------------------------------------


def json_object(request) -> dict:
    """The request body as a JSON object, or 400 (malformed / not an object) or 413 (too large)."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise too_large_error() from None
    except RawPostDataException:  # a multipart form already consumed by the CSRF check
        raise bad_input("the request body must be JSON (Content-Type: application/json)", "malformed_json") from None
    if not raw:
        raise bad_input("the request body must be a JSON object", "malformed_json")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # ValueError covers JSONDecodeError and UnicodeDecodeError
        raise bad_input("the request body is not valid JSON", "malformed_json") from None
    if not isinstance(value, dict):
        raise bad_input("the request body must be a JSON object", "malformed_json")
    return value


def _get(body: dict, name: str, required: bool):
    value = body.get(name, MISSING)
    if value is MISSING and required:
        raise bad_input({name: "this field is required"}, "missing_field")
    return value


def _wrong(name: str, expected: str):
    return bad_input({name: f"expected {expected}"}, "wrong_type")


def text(
    body: dict,
    name: str,
    *,
    max_length: int,
    required=False,
    allow_blank=False,
    strip=True,
    normalise=None,
    default=MISSING,
):
    """A string field, stripped unless strip=False; MISSING (or `default`) when absent and not required."""
    value = _get(body, name, required)
    if value is MISSING:
        return default
    return clean_text(value, name, max_length=max_length, allow_blank=allow_blank, strip=strip, normalise=normalise)


def clean_text(value, name: str, *, max_length: int, allow_blank=False, strip=True, normalise=None) -> str:
    """The string as it will be stored: stripped, then `normalise`d, and only then checked against max_length
    (normalising can lengthen it: "İ".lower() is two characters), so it always fits its column."""
    if not isinstance(value, str):
        raise _wrong(name, "a string")
    if "\x00" in value:
        raise bad_input({name: "NUL characters are not allowed"})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_input({name: "not valid Unicode text"}) from None
    if len(value) > max_length:  # as sent, before stripping: the OpenAPI schema's maxLength
        raise bad_input({name: f"at most {max_length} characters"})
    if strip:
        value = value.strip()
    if normalise is not None:
        value = normalise(value)
    if not value and not allow_blank:
        raise bad_input({name: "must not be blank"})
    if len(value) > max_length:  # and once normalised, so it always fits its column
        raise bad_input({name: f"at most {max_length} characters" + (" (once normalised)" if normalise else "")})
    return value


def integer(body: dict, name: str, *, low: int, high: int, required=False, default=MISSING):
    value = _get(body, name, required)
    if value is MISSING:
        return default
    return clean_integer(value, name, low=low, high=high)


def clean_integer(value, name: str, *, low: int, high: int) -> int:
    # JSON has one number type: 3.0 is the integer 3 (as JSON Schema's "integer" says), 3.5 is not an integer.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(name, "an integer")
    if not low <= value <= high:
        raise bad_input({name: f"must be between {low} and {high}"})
    return value


def quantity(value, name: str) -> Decimal:
    """A number from 0 to MAX_QUANTITY, stored rounded to 3 decimals (the range is checked before rounding, as the
    OpenAPI schema states it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong(name, "a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise bad_input({name: "must be a finite number"})
    if not 0 <= value <= MAX_QUANTITY:
        raise bad_input({name: f"must be between 0 and {MAX_QUANTITY}"})
    return Decimal(str(value)).quantize(Decimal("0.001"))


def boolean(body: dict, name: str, *, required=False, default=MISSING):
    value = _get(body, name, required)
    if value is MISSING:
        return default
    if not isinstance(value, bool):
        raise _wrong(name, "true or false")
    return value


def choice(body: dict, name: str, choices, *, required=False, default=MISSING):
    value = _get(body, name, required)
    if value is MISSING:
        return default
    if not isinstance(value, str) or value not in choices:
        raise bad_input({name: f"expected one of {sorted(choices)}"})
    return value


def clean_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise bad_input({name: f"expected one of {sorted(choices)}"})
    return value


def array(body: dict, name: str, *, max_items: int, required=False, default=MISSING):
    value = _get(body, name, required)
    if value is MISSING:
        return default
    if not isinstance(value, list):
        raise _wrong(name, "a list")
    if len(value) > max_items:
        raise bad_input({name: f"at most {max_items} items"})
    return value


def obj(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise _wrong(name, "an object")
    return value


def iso_date(value, name: str) -> dt.date:
    """YYYY-MM-DD, and a day that exists (2026-02-30 is refused)."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise bad_input({name: "expected a date as YYYY-MM-DD"}, "invalid_date")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise bad_input({name: f"{value} is not a day of the calendar"}, "invalid_date") from None


def date_field(body: dict, name: str, *, required=False, default=MISSING):
    value = _get(body, name, required)
    if value is MISSING:
        return default
    return iso_date(value, name)


# --- path parts and query parameters ---------------------------------------------------------------------


def path_id(value: str, name: str = "id") -> int:
    """A positive integer id from the URL; anything else (letters, signs, spaces, 0) is a 400."""
    if not _ID.fullmatch(value):
        raise bad_input({name: "expected a positive integer id"}, "invalid_id")
    return int(value)


def page_number(request) -> int:
    raw = request.GET.get("page", "1")
    if not _PAGE.fullmatch(raw):
        raise bad_input({"page": "expected a positive integer page number"})
    return int(raw)


def optional_query_id(request, name: str) -> int | None:
    raw = request.GET.get(name)
    return None if raw is None else path_id(raw, name)
