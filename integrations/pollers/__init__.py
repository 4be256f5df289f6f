"""Pollers: read what changed since a stored cursor and route it like a webhook would."""
