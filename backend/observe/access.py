"""Who may look: staff only. Anonymous visitors of a page are sent to the login page; anyone else who is not staff
gets 403 (an HTML page for the dashboard, a JSON body for its data and stream)."""

import functools

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse


def staff_only(*, page: bool):
    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                if page:
                    return redirect_to_login(request.get_full_path())
                return JsonResponse({"error": "not_authenticated", "detail": "log in as staff"}, status=401)
            if not (user.is_active and user.is_staff):
                if page:
                    return HttpResponse(
                        "<!doctype html><title>Forbidden</title><h1>403 Forbidden</h1><p>The dashboard is for staff.</p>",
                        status=403,
                    )
                return JsonResponse({"error": "forbidden", "detail": "staff only"}, status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
