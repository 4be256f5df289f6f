"""What a poller is: a stream that yields changes after a cursor, oldest first.

The seam for ERP pollers (M3, TIMS): write a Poller subclass over the system's client and
register a factory for its connection system in integrations.pollers.registry.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from integrations.models import Integration


@dataclass(frozen=True)
class Change:
    """One changed thing, shaped like an incoming event so it routes the same way."""

    event_type: str
    data: dict[str, Any] = field(default_factory=dict)
    # The cursor value this change moves the stream to (e.g. its date_upd).
    cursor: str = ""


class Poller:
    """One stream of one integration. Subclasses set the class attributes and fetch()."""

    # Stream name, unique per integration (the PollCursor's key), e.g. "prestashop.orders".
    stream: ClassVar[str]
    # Webhook source its changes are routed as (integrations.webhooks.routing).
    source: ClassVar[str]
    # The flow its changes feed: not polled at all when the integration has it disabled.
    flow: ClassVar[str]

    def __init__(self, integration: Integration) -> None:
        self.integration = integration
        # Set by fetch() when part of the walk was not a consistent read: the cursor may
        # not move past this value (the next run reads from there again).
        self.cursor_ceiling: str | None = None

    def window_start(self, cursor: str) -> str | None:
        """Where a run starts reading, given the stored cursor (None: from the beginning).
        Date cursors step back an overlap window here (clock skew, rows committed late)."""
        return cursor or None

    def fetch(self, since: str | None) -> Iterator[Change]:
        """Changes after `since`, oldest first; a failure raises (the cursor stays put)."""
        raise NotImplementedError

    def later(self, a: str, b: str) -> str:
        """The later of two cursor values (plain comparison suits padded dates and ids)."""
        return max(a, b)

    def earlier(self, a: str, b: str) -> str:
        return b if self.later(a, b) == a else a

    def close(self) -> None:
        return None
