"""GET /metrics: the Prometheus scrape, behind a bearer token (METRICS_TOKEN, or the file METRICS_TOKEN_FILE
names). Without a configured token the endpoint answers 404, as if it did not exist; a wrong or missing token
answers 401. A token rather than an allow-list of addresses: behind a platform's proxy every client shares the
proxy's address, so an allow-list would open the metrics to the internet."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from observe.metrics.registry import web_registry


def _authorized(request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"error": "not_found", "detail": "no such resource"}, status=404)
    if not _authorized(request, token):
        response = JsonResponse(
            {"error": "not_authenticated", "detail": "Authorization: Bearer <METRICS_TOKEN>"}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(web_registry()), content_type=CONTENT_TYPE_LATEST)
