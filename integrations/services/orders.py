"""Services around the order flows: mappings for an integration, backorder approval, and an
enqueue that re-opens an order skipped for its state."""

from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from integrations.models import Integration, SyncRecord
from integrations.services.records import (
    REOPEN_SKIPPED,
    EnqueueResult,
    RecordActionError,
    sync_record_enqueue,
    sync_record_retry,
)
from mappings.models import FieldMapping, MappingSet, ValueMap, ValueMapEntry
from mappings.serialization import import_data, load
from mappings.services import mapping_set_promote

DEFAULTS_DIR = Path(__file__).resolve().parents[2] / "mappings" / "defaults"
# Default mapping file per ERP connection system.
DEFAULT_FILES = {"infor_m3": "infor_m3.yaml", "tims": "tims.yaml"}
ORDER_ENTITIES = ("order_header", "order_line", "customer")


@transaction.atomic
def order_mappings_install(*, integration: Integration) -> list[str]:
    """Give the integration its ERP's default order and customer mapping sets (copied from
    mappings/defaults, value maps included) and promote each entity that has no active set
    yet. Idempotent: existing sets and active choices are left alone. Returns the set names
    promoted."""
    system = integration.erp_connection.system
    data = load((DEFAULTS_DIR / DEFAULT_FILES[system]).read_text(encoding="utf-8"))
    for mapping_set in data.get("mapping_sets") or ():
        mapping_set["integration"] = integration.slug
        mapping_set["active"] = False
    import_data(data, only_missing=True)
    promoted = []
    for entity in ORDER_ENTITIES:
        sets = MappingSet.objects.filter(
            integration=integration, entity=entity, target_system=system
        )
        if sets.filter(active=True).exists():
            continue
        candidate = sets.order_by("id").first()
        if candidate is not None:
            mapping_set_promote(mapping_set=candidate)
            promoted.append(candidate.name)
    return promoted


def order_sync_enqueue(
    *,
    integration: Integration,
    order_id: str,
    reference: str = "",
    payload: Any = None,
    enqueue: bool = True,
) -> EnqueueResult:
    """Enqueue the order_to_cash record of a shop order; an order skipped earlier for its
    state (payment error, cancelled) is run again, since its state may have changed."""
    return sync_record_enqueue(
        integration=integration,
        flow="order_to_cash",
        source_system="prestashop",
        source_id=str(order_id),
        reference=reference,
        payload=payload,
        enqueue=enqueue,
        reopen=REOPEN_SKIPPED,
    )


def order_backorder_approve(
    *, record: SyncRecord, user: AbstractBaseUser | AnonymousUser | None = None
) -> SyncRecord:
    """Let an order held for stock go in as a backorder, and retry it."""
    inventory = (record.context or {}).get("inventory") or {}
    if record.flow != "order_to_cash" or inventory.get("decision") != "hold":
        raise RecordActionError(f"record {record.pk} is not an order held for stock")
    who = getattr(user, "get_username", lambda: "system")() if user else "system"
    context = {
        **(record.context or {}),
        "backorder_approved": True,
        "inventory": {**inventory, "decision": "", "approved_by": who},
    }
    SyncRecord.objects.filter(pk=record.pk).update(context=context, updated_at=timezone.now())
    record.refresh_from_db()
    return sync_record_retry(record=record, user=user)


# ---------------------------------------------------------------- the built-in simulators

# Value map translating the shop simulator's references to the ERP simulators' items.
SIMULATOR_ITEM_MAP = "simulator_items"


def simulator_item_map(system: str) -> str:
    """The value map of shop simulator references to one ERP simulator's items (value maps
    are global by name, and M3 and TIMS simulators number their items differently)."""
    return SIMULATOR_ITEM_MAP if system == "infor_m3" else f"{SIMULATOR_ITEM_MAP}_{system}"


SHOP_PRODUCTS = 12
SHOP_SIZES = ("S", "M", "L", "XL")
TIMS_ITEMS = (
    "CYL-AR-300",
    "CYL-CO2-50",
    "CYL-OX-250",
    "WIRE-ER70S6-33",
    "ROD-7018-10",
    "GLV-TIG-L",
    "HLM-AD-9",
    "REG-AR-FLOW",
    "TIP-035-10",
    "NOZ-MIG-12",
)


def _entries(name: str, entries: dict[str, str], **defaults: Any) -> None:
    value_map, _ = ValueMap.objects.get_or_create(name=name, defaults=defaults)
    for source, target in entries.items():
        ValueMapEntry.objects.update_or_create(
            value_map=value_map, source_value=source, defaults={"target_value": target}
        )
    value_map.save()  # touches updated_at: compiled mapping sets using it recompile


def simulator_item(system: str, product_id: int) -> str:
    if system == "tims":
        return TIMS_ITEMS[(product_id - 1) % len(TIMS_ITEMS)]
    return f"PS-{1000 + product_id}"


@transaction.atomic
def order_simulator_mappings(*, integration: Integration) -> None:
    """What a real project configures by hand, set for the simulators: the default mappings
    installed and promoted, the shop's carrier ids and payment names in the value maps, the
    M3 simulator's customer template, and the item cross-reference."""
    order_mappings_install(integration=integration)
    system = integration.erp_connection.system
    # The shop simulator's phone numbers are random digits, not valid for their countries.
    FieldMapping.objects.filter(
        mapping_set__integration=integration, target_field__in=("PHNO", "phone")
    ).update(transforms="")
    items = {}
    for pid in range(1, SHOP_PRODUCTS + 1):
        item = simulator_item(system, pid)
        items[f"SIM-{pid:04d}"] = item
        for size in SHOP_SIZES:
            items[f"SIM-{pid:04d}-{size}"] = item
    _entries(
        simulator_item_map(system),
        items,
        description="Shop simulator references → ERP simulator items",
    )
    if system == "infor_m3":
        # The canonical order carries the carrier id and the payment's label (not names and
        # modules as the defaults list): the simulators' values are added.
        _entries("m3_carrier_to_modl", {"1": "PUP", "2": "STD"})
        _entries("m3_payment_to_tepy", {"Bank wire": "010", "Payment by check": "030"})
        FieldMapping.objects.filter(
            mapping_set__integration=integration,
            mapping_set__entity="customer",
            target_field="CUTM",
        ).update(default="WEBTMPL")
    else:
        _entries("tims_carrier_to_ship_via", {"1": "WILLCALL", "2": "STANDARD"})
    for mapping_set in MappingSet.objects.filter(integration=integration):
        mapping_set.save()  # a new updated_at: compiled sets are refreshed
