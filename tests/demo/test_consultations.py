"""Consultations, their participants and the join audit; logging in and out."""

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.test import Client

from consultation.models import Consultation, JoinRecord, Participant

pytestmark = pytest.mark.django_db

PASSWORD = "a-test-password-9"


@pytest.fixture
def clinician():
    return get_user_model().objects.create_user("clinician", password=PASSWORD)


@pytest.fixture
def staff():
    return get_user_model().objects.create_superuser("boss", password=PASSWORD)


def test_a_user_logs_in_and_out_with_djangos_views(client: Client, clinician) -> None:
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="password"' in page.content
    wrong = client.post("/accounts/login/", {"username": "clinician", "password": "nope"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session
    answer = client.post("/accounts/login/", {"username": "clinician", "password": PASSWORD})
    assert answer.status_code == 302
    assert client.session["_auth_user_id"] == str(clinician.pk)
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_user_has_one_seat_per_consultation(clinician) -> None:
    consultation = Consultation.objects.create(title="follow-up")
    Participant.objects.create(
        consultation=consultation, user=clinician, role="doctor", display_name="Dr C"
    )
    with pytest.raises(IntegrityError):
        Participant.objects.create(
            consultation=consultation, user=clinician, role="patient", display_name="C"
        )


def test_staff_manage_consultations_and_read_the_join_audit(client: Client, staff, clinician):
    consultation = Consultation.objects.create(title="first visit")
    JoinRecord.objects.create(consultation=consultation, user=clinician, role="doctor", room="call")
    client.force_login(staff)
    listing = client.get("/admin/consultation/joinrecord/")
    assert listing.status_code == 200
    assert b"clinician" in listing.content
    # An audit trail: nobody adds, edits or deletes records by hand.
    assert client.get("/admin/consultation/joinrecord/add/").status_code == 403
    assert client.get(
        f"/admin/consultation/consultation/{consultation.pk}/change/"
    ).status_code == (200)
