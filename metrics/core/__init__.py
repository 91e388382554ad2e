"""The counting core: live registry, per-type counts, collectors and the tracker.

No HTTP, no ASGI, no multiprocess files: everything here works in one process.
"""
