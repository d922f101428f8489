from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"

    def ready(self):
        from django.contrib import admin

        from api.admin_login import ThrottledAdminAuthenticationForm

        admin.site.login_form = ThrottledAdminAuthenticationForm  # /admin/login/ throttled like the API login

        from api import sessions

        sessions.connect()  # a new password or is_active ends the user's sessions, or is refused
