"""/dashboard/ (the page), /dashboard/data/ (its numbers as JSON) and /dashboard/events/ (the live stream)."""

from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from observe import snapshot, stream
from observe.access import staff_only


@require_GET
@staff_only(page=True)
def dashboard(request):
    from django.conf import settings

    context = {
        "data": snapshot.collect(),
        "sse_max_seconds": settings.OBSERVE_SSE_MAX_SECONDS,
        "sse_max_events": settings.OBSERVE_SSE_MAX_EVENTS,
    }
    return render(request, "observe/dashboard.html", context)


@require_GET
@staff_only(page=False)
def data(request):
    return JsonResponse(snapshot.collect())


@require_GET
@staff_only(page=False)
def events(request):
    response = StreamingHttpResponse(stream.open_stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer the stream
    return response
