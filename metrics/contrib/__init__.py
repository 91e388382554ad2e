"""What ties the exporter to a server: gunicorn hooks, daphne, log redaction."""
