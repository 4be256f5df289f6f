"""Tiny flows that prove the engine. Importable by subprocesses (a q2 cluster under test)
through SYNC_EXTRA_FLOW_MODULES=tests.support.flows."""

import threading
import time
from collections import Counter
from typing import Any

from connectors.errors import DataError, SkipRecord, TransientError
from integrations.flows.base import Flow, FlowContext
from integrations.flows.registry import register

# Loads performed, per record id, in this process (the tests' "remote system").
LOADS: Counter[int] = Counter()
_lock = threading.Lock()


@register
class NoopFlow(Flow):
    """Does nothing, as fast as the engine allows."""

    name = "test_noop"

    def load(self, ctx: FlowContext, payload: Any) -> str:
        with _lock:
            LOADS[ctx.record.pk] += 1
        return f"T-{ctx.record.pk}"


@register
class SlowFlow(Flow):
    """Waits in load, long enough for a second worker to try the same record."""

    name = "test_slow"

    def load(self, ctx: FlowContext, payload: Any) -> str:
        time.sleep(float((payload or {}).get("sleep", 0.3)))
        with _lock:
            LOADS[ctx.record.pk] += 1
        return f"S-{ctx.record.pk}"


@register
class ScriptedFlow(Flow):
    """Behaves as payload_in says: {"fail": "transient"|"permanent"|"skip"|"bug", ...}."""

    name = "test_scripted"

    def transform(self, ctx: FlowContext, data: Any) -> Any:
        data = dict(data or {})
        if data.get("fail") == "permanent":
            raise DataError(
                f"line 2 sku {data.get('sku')!r}: no ERP item; add it under Value maps > Items",
                field="lines.2.sku",
                value=data.get("sku"),
            )
        if data.get("fail") == "skip":
            raise SkipRecord("order state 8 (payment error) is never exported")
        if data.get("fail") == "bug":
            raise KeyError("customer")
        return data

    def load(self, ctx: FlowContext, payload: Any) -> str:
        if payload.get("fail") == "transient":
            raise TransientError(
                "ERP answered 503", retry_after=payload.get("retry_after"), status_code=503
            )
        with _lock:
            LOADS[ctx.record.pk] += 1
        return "OK-1"


@register
class CrashAfterLoadFlow(Flow):
    """Load succeeds remotely, then reconcile fails once (as a crash between two writes)."""

    name = "test_crash_after_load"

    def load(self, ctx: FlowContext, payload: Any) -> str:
        with _lock:
            LOADS[ctx.record.pk] += 1
        return "ERP-42"

    def reconcile(self, ctx: FlowContext, target_id: str) -> None:
        if not ctx.state.get("reconciled_once"):
            ctx.checkpoint(reconciled_once=True)
            raise TransientError("connection reset while confirming")


@register
class WaitFlow(Flow):
    """Waits 20 ms in load, like a remote call: the benchmark's latency-bound flow."""

    name = "test_wait_20ms"

    def load(self, ctx: FlowContext, payload: Any) -> str:
        time.sleep(0.02)
        return "W"
