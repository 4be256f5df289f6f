"""Tasks used only by benchmarks."""


def empty_task() -> None:
    """Does nothing: measures q2's own per-task overhead."""
