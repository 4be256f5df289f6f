"""django-q2 tasks: interfaces only. Each takes ids, reloads, and calls one service; each is
idempotent, because a broker may deliver a task twice and the sweep may queue a record again."""

from typing import Any

from integrations.pipeline import process_records
from integrations.sweep import sweep


def process_records_task(record_ids: list[int]) -> dict[str, Any]:
    """Claim these records (those still due) and run them."""
    return process_records(ids=record_ids, limit=len(record_ids)).as_dict()


def sweep_task() -> dict[str, Any]:
    """Reclaim dead workers' claims and queue every due record nobody has queued."""
    return sweep().as_dict()
