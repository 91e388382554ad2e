"""Test settings: the project's settings with a throwaway secret key."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-secret")

from vidai.settings import *  # noqa: F403
