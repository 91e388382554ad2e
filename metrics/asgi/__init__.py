"""The ASGI layer: ``track()``, ``unrouted()``, the refusal middleware, route discovery."""
