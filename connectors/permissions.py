"""What a connection test reports per operation: may, may not, more than needed, not probed.

Least privilege: the flows need some operations; credentials that may do more than that are
a risk worth removing, so an operation granted but needed by no flow is reported as such.
"""

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    MAY = "may"
    MAY_NOT = "may not"
    MORE_THAN_NEEDED = "more than needed"
    # Writes are never tried by a test (it must not change the system it looks at).
    NOT_PROBED = "not probed"


@dataclass(frozen=True)
class PermissionRow:
    operation: str  # "POST order_histories", "OIS100MI/LstHead", "GET /customers"
    verdict: Verdict
    needed_by: tuple[str, ...] = ()  # the flows that use it; () = none
    detail: str = ""

    @property
    def problem(self) -> bool:
        """A needed operation refused: a flow that uses it will fail."""
        return self.verdict is Verdict.MAY_NOT and bool(self.needed_by)


def needed_by(needs: dict[str, dict[str, tuple[str, ...]]], flows: list[str]) -> dict[str, list]:
    """{operation: [flows]} from a table {flow: {"reads": (...), "writes": (...)}}."""
    found: dict[str, list[str]] = {}
    for flow in flows:
        for kind in ("reads", "writes"):
            for operation in needs.get(flow, {}).get(kind, ()):
                found.setdefault(operation, []).append(flow)
    return found
