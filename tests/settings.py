"""Settings of the product's tests: Django, Channels and the exporter, nothing of the demo.

A minimal adopting project (``tests/routing.py``, ``tests/urls.py``), as a
Channels team's own would be; the Vidai demo's tests run apart, on
``tests.demo.settings`` (see CONTRIBUTING.md).
"""

SECRET_KEY = "product-tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "channels",
    # Optional: the exporter serves django-prometheus's families beside its own.
    "django_prometheus",
    "metrics",
]
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
ROOT_URLCONF = "tests.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Logging in is on some tests' path; the default hasher is slow on purpose.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
VIDAI_METRICS = {
    "WEBSOCKET_ROUTES": "tests.routing.websocket_urlpatterns",
    # Tests poll the status JSON far faster than any browser; the limiter's
    # own tests switch it back on with override_settings.
    "STATUS_RATE_LIMIT": "0",
}
