"""A minimal foreign Channels project: what the server matrix serves (no Vidai code)."""
