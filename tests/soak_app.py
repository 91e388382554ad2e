"""Vidai's ASGI app plus one test-only HTTP path: the server's retained memory.

``GET /_test/heap`` runs a full garbage collection, hands freed heap pages
back to the kernel (glibc's ``malloc_trim``) and answers what is left: live
Python objects and resident bytes. Without both steps, a server's memory
after load is the high-water mark of that load (closed uvicorn sockets wait
in reference cycles for the next full collection; glibc keeps freed pages),
which says how busy the machine was, not whether anything leaked.
"""

import ctypes
import ctypes.util
import gc
import json
import os

from vidai.asgi import application as vidai_application

HEAP_PATH = "/_test/heap"
_libc = ctypes.CDLL(ctypes.util.find_library("c"))


def retained() -> dict[str, int]:
    """Collect garbage, trim the heap, and return what the process still holds."""
    gc.collect()
    _libc.malloc_trim(0)
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return {
        "objects": len(gc.get_objects()),
        "resident_bytes": resident_pages * os.sysconf("SC_PAGE_SIZE"),
    }


async def application(scope, receive, send) -> object:
    if scope["type"] != "http" or scope["path"] != HEAP_PATH:
        return await vidai_application(scope, receive, send)
    body = json.dumps(retained()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return None
