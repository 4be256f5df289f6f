"""The flows this deployment knows, by name.

Flows register themselves with `@register`; the modules that hold them are imported when the
app is ready, from settings.SYNC_FLOW_MODULES (plus SYNC_EXTRA_FLOW_MODULES, which tests and
benchmarks use for their own flows).
"""

import importlib
import threading
from collections.abc import Iterable

from connectors.errors import PermanentError
from integrations.flows.base import Flow
from integrations.models import Integration

FLOWS: dict[str, type[Flow]] = {}

_instances: dict[tuple, Flow] = {}
_instances_lock = threading.Lock()


def register(flow_class: type[Flow]) -> type[Flow]:
    existing = FLOWS.get(flow_class.name)
    if existing is not None and existing is not flow_class:
        raise ValueError(f"two flows are named {flow_class.name!r}: {existing} and {flow_class}")
    FLOWS[flow_class.name] = flow_class
    return flow_class


def import_flow_modules(modules: Iterable[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def get_flow_class(name: str) -> type[Flow]:
    try:
        return FLOWS[name]
    except KeyError:
        known = ", ".join(sorted(FLOWS)) or "none"
        raise PermanentError(
            f"flow {name!r} is not installed (known flows: {known}); "
            "check the integration's enabled flows or SYNC_FLOW_MODULES",
            field="flow",
            value=name,
        ) from None


def get_flow(integration: Integration, name: str) -> Flow:
    """A flow instance for this integration, reused across records so clients stay pooled.

    The cache key includes the integration's and its connections' last change, so editing a
    connection in the admin takes effect on the next record.
    """
    key = (
        integration.pk,
        integration.updated_at,
        integration.shop_connection_id,
        integration.erp_connection_id,
        _connection_stamp(integration),
        name,
    )
    with _instances_lock:
        flow = _instances.get(key)
        if flow is None:
            for stale in [k for k in _instances if k[0] == integration.pk and k[-1] == name]:
                _instances.pop(stale).close()
            flow = get_flow_class(name)(integration)
            _instances[key] = flow
        return flow


def clear_flow_cache() -> None:
    with _instances_lock:
        for flow in _instances.values():
            flow.close()
        _instances.clear()


def _connection_stamp(integration: Integration) -> tuple:
    # Connections are select_related by the claim, so this costs no query there.
    shop = getattr(integration, "shop_connection", None)
    erp = getattr(integration, "erp_connection", None)
    return (getattr(shop, "updated_at", None), getattr(erp, "updated_at", None))
