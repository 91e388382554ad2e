from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from consultation.pages import status_page
from vidai.health import healthz

urlpatterns = [
    path("", status_page, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # Django's own views; the form is consultation's registration/login.html.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("consultation/", include("consultation.urls")),
    path("", include("metrics.urls")),
]
