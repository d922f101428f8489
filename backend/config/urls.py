from django.contrib import admin
from django.urls import include, path
from observe.metrics.view import metrics

from api.views.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("dashboard/", include("observe.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
]

handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
handler400 = "api.errors.bad_request"  # also maps an oversized form body (read by the CSRF check) to 413
handler403 = "api.errors.permission_denied"
