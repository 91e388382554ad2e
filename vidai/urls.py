from django.contrib import admin
from django.urls import include, path

from consultation.pages import status_page
from vidai.health import healthz

urlpatterns = [
    path("", status_page, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("consultation/", include("consultation.urls")),
    path("", include("metrics.urls")),
]
