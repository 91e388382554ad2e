"""Staff manage consultations and their participants; the join audit is read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Consultation, JoinRecord, Participant


class ParticipantInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Participant
    extra = 1
    autocomplete_fields = ("user",)


@admin.register(Consultation)
class ConsultationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "id", "created_at")
    search_fields = ("title",)
    readonly_fields = ("id", "created_at")
    inlines = (ParticipantInline,)


@admin.register(JoinRecord)
class JoinRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("joined_at", "user", "role", "room", "consultation")
    list_filter = ("room", "role")
    date_hierarchy = "joined_at"
    list_select_related = ("user", "consultation")

    # An audit trail: written by the sockets only.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
