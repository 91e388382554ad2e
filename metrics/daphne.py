"""``python -m metrics.daphne``: daphne with a redacted access log (``metrics.contrib.daphne``)."""

from .contrib.daphne import RedactingCommandLineInterface

if __name__ == "__main__":
    RedactingCommandLineInterface.entrypoint()
