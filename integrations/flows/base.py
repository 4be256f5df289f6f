"""A flow plugs into the pipeline as a small class with one method per step.

    extract   -> the source document (e.g. the shop order, read fresh)
    transform -> the target's write payload (through the mappings)
    validate  -> raise DataError naming field and value, or return
    load      -> perform the write; return the target id
    reconcile -> check or finish what load did (e.g. confirm, link ids)

Raise TransientError / PermanentError (connectors.errors) to fail a step, SkipRecord to end
the record as skipped with a reason. `load` must be safe to run again after a crash: look the
target up by its natural key before creating (the engine skips load once a target id is
stored, but a crash can fall between the remote write and our commit).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from integrations.models import Direction, Integration, SyncRecord
from integrations.overrides import overrides_apply


@dataclass
class FlowContext:
    """What a step sees: the record, its integration, and state kept across attempts."""

    record: SyncRecord
    integration: Integration
    state: dict[str, Any] = field(default_factory=dict)
    # Set by the engine: persists `state` now (fenced by the claim), for multi-call loads.
    _checkpoint: Callable[[dict[str, Any]], None] | None = None

    def checkpoint(self, **values: Any) -> None:
        """Remember values (e.g. an ERP batch number) at once, so a retry resumes from them."""
        self.state.update(values)
        if self._checkpoint is not None:
            self._checkpoint(self.state)


class Flow:
    """Base class. One instance serves many records of one integration (reuse clients)."""

    name: ClassVar[str]
    direction: ClassVar[str] = Direction.SHOP_TO_ERP
    entity: ClassVar[str] = ""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration

    def extract(self, ctx: FlowContext) -> Any:
        return ctx.record.payload_in

    def transform(self, ctx: FlowContext, data: Any) -> Any:
        return data

    def apply_overrides(self, ctx: FlowContext, payload: Any) -> Any:
        """Hook between transform and validate: an operator's active override (one field of
        the outgoing document, see integrations.overrides) replaces the transformed value."""
        return overrides_apply(ctx.state, payload, attempt=ctx.record.attempts)

    def validate(self, ctx: FlowContext, payload: Any) -> None:
        return None

    def load(self, ctx: FlowContext, payload: Any) -> str:
        raise NotImplementedError(f"flow {self.name!r} does not implement load")

    def reconcile(self, ctx: FlowContext, target_id: str) -> None:
        return None

    def close(self) -> None:
        """Release clients (sessions) when the flow instance is dropped."""
