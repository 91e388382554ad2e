"""One answer type for the HTTP endpoints, whichever server or framework sends it.

The scrape refusals (the Django view and the WSGI listener) and the status JSON
(the Django view and the ASGI fast path) are decided once, as an ``Answer``,
and each caller writes it out in its own way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

from django.http import HttpResponse

__all__ = ["Answer"]


@dataclass(slots=True)
class Answer:
    """Status, headers and the full body (``django(head=True)`` leaves the body out).

    >>> answer = Answer(403, {"Content-Type": "text/plain"}, b"Forbidden\\n")
    >>> answer.status_line()
    '403 Forbidden'
    >>> answer.django().status_code
    403
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def status_line(self) -> str:
        """The WSGI status: the code and its reason phrase."""
        return f"{self.status} {HTTPStatus(self.status).phrase}"

    def django(self, *, head: bool = False) -> HttpResponse:
        """The answer as Django's response; without the body when ``head``."""
        return HttpResponse(b"" if head else self.body, status=self.status, headers=self.headers)
