from django.contrib import admin
from django.urls import include, path

from consultation.pages import status_page

urlpatterns = [
    path("", status_page, name="home"),
    path("admin/", admin.site.urls),
    path("consultation/", include("consultation.urls")),
    path("", include("metrics.urls")),
]
