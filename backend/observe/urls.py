from django.urls import path

from observe import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("data/", views.data, name="dashboard-data"),
    path("events/", views.events, name="dashboard-events"),
]
