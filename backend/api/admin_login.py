"""The admin's login form, throttled like POST /api/auth/login/ (api.throttle, the same counters).

Installed as admin.site.login_form by ApiConfig.ready(): AdminSite's documented hook for its login form, so
/admin/login/ keeps Django's own view, template and CSRF check. A locked-out username or address gets the
form's error (status 200, no session) even with the right password; only wrong credentials count.
"""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from api import throttle


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "too_many_attempts": "Too many failed logins for this account or from this address; try again later.",
        "login_unavailable": "Logging in is not possible right now (attempts cannot be counted); try again shortly.",
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is None or self.cleaned_data.get("password") is None:
            return super().clean()  # a missing field: the form's own "required" errors, nothing to count
        decision = throttle.admit(self.request, username)  # counts this attempt first (atomic), then decides
        if decision is throttle.Decision.UNAVAILABLE:
            raise ValidationError(self.error_messages["login_unavailable"], code="login_unavailable")
        if decision is throttle.Decision.LOCKED:
            raise ValidationError(self.error_messages["too_many_attempts"], code="too_many_attempts")
        try:
            cleaned = super().clean()
        except ValidationError:
            if self.user_cache is not None:  # the right password of a non-staff user: not a failed guess
                throttle.record_success(self.request, username)
            raise
        throttle.record_success(self.request, username)
        return cleaned
