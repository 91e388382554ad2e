"""``manage.py seed_demo``: the local demo's users and consultation (DEBUG only).

``make run`` calls it after migrating. It creates, or resets to the same
state, a clinician and a staff user with the passwords below, and one
consultation they both take part in, then prints how to log in. The
passwords are public (they are in docs/demo.md): the command refuses to run
unless ``DEBUG`` is on.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from consultation.models import Consultation, Participant

DEMO_CONSULTATION = uuid.UUID("de300000-0000-4000-8000-000000000001")
# username: (password, is_staff, role, display name)
DEMO_USERS = {
    "demo-clinician": ("vidai-demo-clinician", False, "doctor", "Dr Demo"),
    "demo-staff": ("vidai-demo-staff", True, "observer", "Demo Staff"),
}


class Command(BaseCommand):
    help = "Create the demo clinician, staff user and consultation (DEBUG only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo runs with DEBUG on only: its passwords are public")
        consultation, _ = Consultation.objects.update_or_create(
            id=DEMO_CONSULTATION, defaults={"title": "Demo consultation"}
        )
        user_model = get_user_model()
        for username, (password, is_staff, role, name) in DEMO_USERS.items():
            user, _ = user_model.objects.update_or_create(
                username=username, defaults={"is_staff": is_staff, "is_active": True}
            )
            user.set_password(password)
            user.save()
            Participant.objects.update_or_create(
                consultation=consultation, user=user, defaults={"role": role, "display_name": name}
            )
        self.stdout.write("Demo accounts (DEBUG only), log in at /accounts/login/:")
        for username, (password, is_staff, role, _) in DEMO_USERS.items():
            what = "staff, " if is_staff else ""
            self.stdout.write(f"  {username} / {password}  ({what}{role} in the demo consultation)")
        self.stdout.write(f"Demo consultation: {DEMO_CONSULTATION}")
