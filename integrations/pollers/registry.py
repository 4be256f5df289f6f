"""Pollers by connection system. The PrestaShop ones ship here; the M3 and TIMS clients are
being written, so their pollers register themselves (`register("infor_m3")(factory)`) from
their own modules, listed in settings.SYNC_POLLER_MODULES."""

import importlib
from collections.abc import Callable

from django.conf import settings

from integrations.models import Integration
from integrations.pollers.base import Poller

PollerFactory = Callable[[Integration], Poller]

POLLERS: dict[str, dict[str, PollerFactory]] = {}


def register(system: str, stream: str) -> Callable[[PollerFactory], PollerFactory]:
    def decorator(factory: PollerFactory) -> PollerFactory:
        POLLERS.setdefault(system, {})[stream] = factory
        return factory

    return decorator


def unregister(system: str, stream: str) -> None:
    POLLERS.get(system, {}).pop(stream, None)


_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    from integrations.pollers import prestashop  # noqa: F401  (registers the shop's streams)

    for module in getattr(settings, "SYNC_POLLER_MODULES", []):
        importlib.import_module(module)
    _loaded = True


def streams_for(integration: Integration) -> dict[str, PollerFactory]:
    """Every stream this integration polls: its shop's and its ERP's."""
    _load()
    systems = (integration.shop_connection.system, integration.erp_connection.system)
    streams: dict[str, PollerFactory] = {}
    for system in systems:
        streams.update(POLLERS.get(system, {}))
    return streams
