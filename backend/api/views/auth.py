"""Session login, logout and "who am I". Login is CSRF-exempt (there is no token before it; api.login_guard
says why JSON-only and same-origin make that safe) and sets the csrftoken cookie that every later unsafe
request must echo in X-CSRFToken, and the uid_hint cookie that lets cached reads fetch session, identity and
value in one Redis round trip (api.identity); logout deletes it."""

from django.contrib import auth
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token

from api import bodies, identity, login_guard, throttle, validation
from api.dispatch import endpoint
from api.errors import ApiError
from planner.shopping import family_of


def _login(request, _me):
    login_guard.check(request)  # 415 / 403 before anything is counted or checked
    fields = bodies.LOGIN.clean(validation.json_object(request))
    username, password = fields["username"], fields["password"]
    decision = throttle.admit(request, username)  # counts this attempt first (atomic), then decides
    if decision is throttle.Decision.UNAVAILABLE:
        raise ApiError(503, "login_unavailable", "login attempts cannot be counted right now; try again shortly")
    if decision is throttle.Decision.LOCKED:
        raise ApiError(429, "too_many_attempts", "too many failed logins; try again later")
    user = auth.authenticate(request, username=username, password=password)
    if user is None:
        raise ApiError(401, "invalid_credentials", "wrong username or password")  # the attempt stays counted
    throttle.record_success(request, username)
    auth.login(request, user)  # rotates the session key (no session fixation)
    get_token(request)  # sets the csrftoken cookie on this response
    response = JsonResponse({"id": user.id, "username": user.get_username(), "family_id": family_of(user.id)})
    identity.set_hint(response, request, user.id)  # lets cached reads fetch session+identity+value at once
    return response


def _logout(request, _me):
    auth.logout(request)
    response = HttpResponse(status=204)
    identity.delete_hint(response)
    return response


def _me(request, me):
    return JsonResponse({k: me[k] for k in ("id", "username", "family_id", "is_staff")})


login = endpoint(public=True, csrf_exempt=True, POST=_login)
logout = endpoint(public=True, POST=_logout)
me = endpoint(GET=_me)
