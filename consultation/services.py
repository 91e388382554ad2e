"""Vidai's name for the exporter's facade: ``metrics.SocketStatusService``."""

from metrics import SocketStatusService

__all__ = ["SocketStatusService"]
