from django.http import JsonResponse


def csrf_failure(request, reason=""):
    return JsonResponse({"error": "csrf_failed", "detail": reason}, status=403)


def not_found(request, exception=None):
    return JsonResponse({"error": "not_found"}, status=404)


def server_error(request):
    return JsonResponse({"error": "server_error"}, status=500)
