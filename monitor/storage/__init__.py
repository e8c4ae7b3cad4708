"""Where sessions, their records and the review app's users are kept (SQLite or PostgreSQL)."""
