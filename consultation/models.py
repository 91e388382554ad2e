"""Consultations, who takes part in them and in which role, and who joined when.

A consultation's id is a UUID: it is what the WebSocket paths carry
(``/ws/call/<id>/``, ``/ws/stt/room/?consultation=<id>``), and it says
nothing about the people in it. A participant's role and display name are
the server's record; nothing a client sends changes them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    DOCTOR = "doctor"
    PATIENT = "patient"
    INTERPRETER = "interpreter"
    NURSE = "nurse"
    OBSERVER = "observer"


class Consultation(models.Model):
    """One consultation: a call room and a transcript room shared by its participants."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=120, help_text="For staff; never sent to a socket.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        permissions = (("monitor_transcripts", "Can read the transcript feeds"),)

    def __str__(self) -> str:
        return self.title


class Participant(models.Model):
    """A user's place in a consultation: the role and name the rooms show."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consultations"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    display_name = models.CharField(max_length=64)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["consultation", "user"], name="one_place_per_user"),
        )

    def __str__(self) -> str:
        return f"{self.display_name} ({self.role})"


class JoinRecord(models.Model):
    """Audit trail: a participant's socket joined a consultation's room.

    Kept in the database, shown in the admin, never written to a log line.
    Records outlive a participant's removal (the user is kept, not the seat).
    """

    class Room(models.TextChoices):
        CALL = "call"
        TRANSCRIPT = "stt_room"
        STREAM = "stt"

    consultation = models.ForeignKey(Consultation, on_delete=models.PROTECT, related_name="joins")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16, choices=Role.choices)
    room = models.CharField(max_length=16, choices=Room.choices)
    joined_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-joined_at",)

    def __str__(self) -> str:
        return f"{self.user} joined {self.room} at {self.joined_at:%Y-%m-%d %H:%M:%S}"
