"""Conversations: the session a face drives, and the SQLite history it writes as replies stream."""
