"""What answers HTTP: access rules, exposition, the status document and JSON,
the views, the fast path and the dedicated listener.
"""
