"""JSON error bodies, `{"error": "<code>", "detail": ...}`, for every failure the API can answer with.

Views raise ApiError; api.dispatch turns it (and the few Django exceptions bad input can cause) into a
response. The module-level views below are Django's handlers (404, 400, 403, 500 and CSRF failure), so
even errors raised outside our views never answer with an HTML page or a redirect.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse


class ApiError(Exception):
    """An answer other than success: HTTP status, a stable machine-readable code, and a human detail."""

    def __init__(self, status: int, code: str, detail=None):
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail

    def response(self) -> JsonResponse:
        return error_response(self.status, self.code, self.detail)


def error_response(status: int, code: str, detail=None) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


def bad_input(detail, code: str = "invalid") -> ApiError:
    return ApiError(400, code, detail)


def not_found_error(detail="not found") -> ApiError:
    return ApiError(404, "not_found", detail)


def too_large_error() -> ApiError:
    from django.conf import settings

    return ApiError(413, "too_large", f"request body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")


# --- Django's handlers (settings.CSRF_FAILURE_VIEW and config/urls.py handler404/400/403/500) -------------


def csrf_failure(request, reason=""):
    return error_response(403, "csrf_failed", reason or "CSRF verification failed")


def not_found(request, exception=None):
    return error_response(404, "not_found", "no such resource")


def bad_request(request, exception=None):
    # A form-encoded body over the size limit is read by the CSRF middleware before any view runs.
    if isinstance(exception, RequestDataTooBig):
        return too_large_error().response()
    return error_response(400, "bad_request", "the request could not be understood")


def permission_denied(request, exception=None):
    return error_response(403, "forbidden", "not allowed")


def server_error(request):
    return error_response(500, "server_error", "unexpected error; it has been logged")
