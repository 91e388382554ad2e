"""``python -m metrics.listener``: the host's dedicated ``/metrics`` listener process.

The listener itself is ``metrics.http.listener``; gunicorn's ``when_ready``
hook starts this command once per host.
"""

import sys

from .http.listener import main

if __name__ == "__main__":
    sys.exit(main())
