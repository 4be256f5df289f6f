"""Chaos, crash and scale-out runs on PostgreSQL + Redis: `python -m bench.chaos` (README.md)."""
