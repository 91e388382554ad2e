"""``manage.py seed_demo``: the demo's accounts, in DEBUG only."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import override_settings

from consultation.management.commands.seed_demo import DEMO_CONSULTATION, DEMO_USERS
from consultation.models import Participant

pytestmark = pytest.mark.django_db


def test_refuses_without_debug() -> None:
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG on only"):
        call_command("seed_demo")
    assert not Participant.objects.exists()


def test_seeds_the_demo_and_prints_how_to_log_in_every_time() -> None:
    for _ in range(2):  # make run calls it at every start
        out = StringIO()
        with override_settings(DEBUG=True):
            call_command("seed_demo", stdout=out)
    seats = {
        (p.user.username, p.user.is_staff, p.role)
        for p in Participant.objects.filter(consultation_id=DEMO_CONSULTATION)
    }
    assert seats == {("demo-clinician", False, "doctor"), ("demo-staff", True, "observer")}
    for username, (password, *_) in DEMO_USERS.items():
        assert authenticate(username=username, password=password) is not None
        assert f"{username} / {password}" in out.getvalue()
    assert str(DEMO_CONSULTATION) in out.getvalue()
