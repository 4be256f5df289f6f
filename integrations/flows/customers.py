"""The "customers" flow: new and changed shop customers, and their addresses, to the ERP.

One record per shop customer, key `customer:<shop customer id>`, collapsed and re-opened when
the shop changes the customer or one of its addresses (customers_scan reads both by date_upd).

Resolution reuses integrations.services.customers (the order-to-cash flow's): the ERP customer
is linked by e-mail (Link entity "customer", shop id = the lower-cased e-mail), so both flows
share one link per person:

    link  -> update the ERP customer with the shop's details
    none  -> find by e-mail in the ERP: same details -> link + update; other details ->
             needs attention with the diff (a person resolves it, as for orders)
    none  -> create it (under the creation lock) and link it

The ERP payload goes through the integration's active "customer" mapping set when there is
one; without one, through the connector's own translation (M3: CRS610MI fields from
connectors.infor.translate.customer_to_m3 with the connection's customer_template; TIMS: the
CustomerRecord fields).

Addresses: each shop address not yet linked (Link entity "customer.address") is added to the
ERP customer (M3: CRS610MI/AddAddress as a delivery address, ADID = "PS" + shop address id;
TIMS: a ship-to "PS<id>"). Connector gap: neither connector changes an existing address (M3's
catalog has no ChgAddress; TIMS ship-tos are create-only), so an address edited in the shop is
reported in the record's context under `addresses_not_updated`, not sent.

Options (Integration.options["customers"]): `skip_guests` (default false), `match_fields`
(default the order flow's: name, postcode, country).
"""

from datetime import datetime
from typing import Any

from django.utils import timezone

from connectors.canonical import Address, Customer
from connectors.errors import PermanentError, SkipRecord
from connectors.models import System
from connectors.prestashop import translate as ps_translate
from connectors.prestashop.client import filter_equals
from integrations.flows.base import FlowContext
from integrations.flows.clients import ShopErpFlow
from integrations.flows.registry import register
from integrations.models import Direction, Integration, Link, PollCursor
from integrations.pipeline import to_storable
from integrations.services.customers import (
    DEFAULT_MATCH_FIELDS,
    ENTITY,
    customer_create_lock,
    customer_diff,
    customer_key,
)
from integrations.services.links import link_bind, link_to_erp
from integrations.services.records import sync_records_open_per_item
from integrations.services.stock import shop_client

FLOW = "customers"
# One record per shop customer, re-opened on each change (also the webhook routes' key).
CUSTOMER_KEY_PREFIX = "customer"
ADDRESS_ENTITY = "customer.address"
CURSOR_STREAM = "customers:shop"


@register
class CustomersFlow(ShopErpFlow):
    name = FLOW
    direction = Direction.SHOP_TO_ERP
    entity = ENTITY

    def __init__(self, integration: Integration) -> None:
        super().__init__(integration)
        options = integration.flow_options(FLOW)
        self.skip_guests = bool(options.get("skip_guests", False))
        self.match_fields = tuple(options.get("match_fields") or DEFAULT_MATCH_FIELDS)

    # -- steps --------------------------------------------------------------------------

    def extract(self, ctx: FlowContext) -> Customer:
        shop_id = ctx.record.source_id
        record = self.shop.get("customers", shop_id)
        context = self.shop.context()
        rows = self.shop.list_records(
            "addresses", filters={"id_customer": filter_equals(shop_id), "deleted": "[0]"}
        )
        addresses = [ps_translate.address_from_wire(r, context) for r in rows]
        customer = ps_translate.customer_from_wire(record, context, addresses=addresses)
        if self.skip_guests and customer.is_guest:
            raise SkipRecord(f"customer {shop_id} is a guest; option skip_guests is on")
        return customer

    def transform(self, ctx: FlowContext, customer: Customer) -> dict[str, Any]:
        if not customer.addresses and self.erp.system == System.INFOR_M3:
            raise PermanentError(
                f"customer {customer.id} ({customer.email}) has no address; M3 needs one "
                "(CUA1, TOWN, CSCD) to create a customer. Resolution: add one in the shop",
                field="addresses",
                value=customer.email,
            )
        return {
            "customer": customer.model_dump(mode="json"),
            "erp": erp_payload(self.integration, self.erp, customer),
        }

    def load(self, ctx: FlowContext, payload: dict[str, Any]) -> str:
        customer = Customer.model_validate(payload["customer"])
        key = customer_key(str(customer.email))
        number = link_to_erp(integration=self.integration, entity=ENTITY, shop_id=key)
        created = False
        if number is None:
            found = self.erp.customer_find(str(customer.email))
            if found is not None:
                diff = customer_diff(shop_details(customer), found.as_dict(), self.match_fields)
                if diff:
                    ctx.state["customer_conflict"] = {
                        "email": str(customer.email),
                        "erp_customer": found.as_dict(),
                        "diff": diff,
                    }
                    names = ", ".join(f"{d['field']} {d['shop']!r} vs {d['erp']!r}" for d in diff)
                    raise PermanentError(
                        f"the ERP already has customer {found.number} with e-mail "
                        f"{customer.email} but other details ({names}). Resolution: link it, "
                        "update it or create a new one (Sync records > customer conflict)",
                        field="email",
                        value=str(customer.email),
                    )
                number = found.number
                link_bind(
                    integration=self.integration,
                    entity=ENTITY,
                    shop_id=key,
                    erp_id=number,
                    record=ctx.record,
                    data={"email": str(customer.email), "how": "found by e-mail"},
                )
            else:
                with customer_create_lock(integration=self.integration, key=key, record=ctx.record):
                    # Re-check under the lock: another worker may have just linked it.
                    number = link_to_erp(integration=self.integration, entity=ENTITY, shop_id=key)
                    if number is None:
                        number = self.erp.customer_create(
                            payload["erp"],
                            idempotency_key=f"shopsync-{self.integration.pk}-customer-{key}",
                        )
                        link_bind(
                            integration=self.integration,
                            entity=ENTITY,
                            shop_id=key,
                            erp_id=number,
                            record=ctx.record,
                            data={"email": str(customer.email), "how": "created"},
                        )
                        created = True
        if not created:  # a new customer already has the shop's details
            self.erp.customer_update(number, payload["erp"])
        self._addresses(ctx, customer, number)
        return number

    def _addresses(self, ctx: FlowContext, customer: Customer, number: str) -> None:
        not_updated = []
        for address in customer.addresses:
            linked = Link.objects.filter(
                integration=self.integration, entity=ADDRESS_ENTITY, shop_id=address.id
            ).first()
            signature = _signature(address)
            if linked is not None:
                if linked.data.get("signature") != signature:
                    not_updated.append(address.id)
                continue
            erp_id = address_add(self.erp, number, address)
            link_bind(
                integration=self.integration,
                entity=ADDRESS_ENTITY,
                shop_id=str(address.id),
                erp_id=erp_id,
                record=ctx.record,
                data={"signature": signature},
            )
        ctx.state["addresses_not_updated"] = not_updated


def shop_details(customer: Customer) -> dict[str, str]:
    """The comparison's fields (as integrations.services.customers.shop_details, for a
    customer instead of an order)."""
    first = customer.addresses[0] if customer.addresses else None
    name = (
        customer.company
        or (first.company if first else "")
        or " ".join(p for p in (customer.first_name, customer.last_name) if p)
    )
    return {
        "email": str(customer.email),
        "name": name,
        "postcode": first.postcode if first else "",
        "city": first.city if first else "",
        "country": str(first.country) if first else "",
    }


def erp_payload(integration: Integration, adapter: Any, customer: Customer) -> dict[str, Any]:
    from mappings.engine import active_mapping, map_document
    from mappings.models import MappingSet

    single = customer.model_copy(update={"addresses": customer.addresses[:1]})
    has_mapping = MappingSet.objects.filter(
        integration_id=integration.pk, entity="customer", active=True
    ).exists()
    if has_mapping:
        compiled = active_mapping(
            integration_id=integration.pk, entity="customer", target_system=adapter.system
        )
        return to_storable(
            map_document(compiled, single, context={"integration": integration.slug})
        )
    if adapter.system == System.INFOR_M3:
        from connectors.infor.translate import customer_to_m3

        record = customer_to_m3(single)
        if not record.get("CUNM") or record["CUNM"] == customer.email:
            name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
            record["CUNM"] = (customer.company or name or str(customer.email))[:36]
        return to_storable({k: v for k, v in record.items() if v not in (None, "")})
    address = single.addresses[0] if single.addresses else None
    name = customer.company or " ".join(p for p in (customer.first_name, customer.last_name) if p)
    payload: dict[str, Any] = {
        "name": (name or str(customer.email))[:60],
        "email": str(customer.email),
        "phone": customer.phone,
        "external_ref": f"PS-{customer.id}",
    }
    if address is not None:
        payload["bill_to"] = _ship_to(address, code="BILL")
    return payload


def address_add(adapter: Any, number: str, address: Address) -> str:
    code = f"PS{address.id}"
    if adapter.system == System.INFOR_M3:
        from connectors.infor import operations as m3_ops

        adrt = adapter.client.settings.delivery_address_type
        name = " ".join(p for p in (address.first_name, address.last_name) if p)
        record = {
            "ADRT": adrt,
            "ADID": code,
            "CUNM": name or address.company,
            "CUA1": address.line1,
            "CUA2": address.line2,
            "CUA3": address.line3,
            "CUA4": address.company if name else "",
            "PONO": address.postcode,
            "TOWN": address.city,
            "CSCD": str(address.country),
            "ECAR": address.region,
            "PHNO": address.phone or address.mobile,
        }
        record = {k: v for k, v in record.items() if v}
        m3_ops.customer_address_add(adapter.client, cuno=number, record=record)
        return f"{number}:{adrt}:{code}"
    ship_to = adapter.client.create_ship_to(
        number, _ship_to(address, code=code), idempotency_key=f"shopsync-ship-to-{code}"
    )
    return f"{number}:{ship_to.id or code}"


def _ship_to(address: Address, *, code: str) -> dict[str, Any]:
    name = " ".join(p for p in (address.first_name, address.last_name) if p) or address.company
    return {
        "ship_to_code": code,
        "name": name[:60],
        "line1": address.line1[:60],
        "line2": address.line2[:60],
        "city": address.city[:40],
        "region": address.region[:20],
        "postal_code": address.postcode[:15],
        "country": str(address.country),
        "phone": (address.phone or address.mobile)[:30],
    }


def _signature(address: Address) -> str:
    return "|".join(
        str(v)
        for v in (address.line1, address.line2, address.postcode, address.city, address.country)
    )


# ---------------------------------------------------------------- scan and task


def customers_scan(*, integration: Integration) -> dict[str, Any]:
    """Open a record per shop customer changed (or whose address changed) since the cursor.
    The first run only sets the cursor; `customers_open` queues chosen customers."""
    cursor, _ = PollCursor.objects.get_or_create(integration=integration, stream=CURSOR_STREAM)
    signpost = timezone.now()
    ids: set[str] = set()
    if cursor.value:
        client = shop_client(integration)
        since = datetime.fromisoformat(cursor.value)
        try:
            for row in client.iter_changed("customers", since=since, display="[id,date_upd]"):
                ids.add(str(row["id"]))
            for row in client.iter_changed(
                "addresses", since=since, display="[id,id_customer,date_upd]"
            ):
                if str(row.get("id_customer") or "0") != "0":
                    ids.add(str(row["id_customer"]))
        finally:
            client.session.close()
    opened = customers_open(integration=integration, shop_ids=sorted(ids, key=int))
    cursor.value = signpost.isoformat()
    cursor.last_run_at = cursor.last_success_at = signpost
    cursor.save()
    return {"changed": len(ids), "records_opened": opened}


def customers_open(*, integration: Integration, shop_ids: list[str]) -> int:
    return sync_records_open_per_item(
        integration=integration,
        item_ids=shop_ids,
        flow=FLOW,
        key_prefix=CUSTOMER_KEY_PREFIX,
        direction=Direction.SHOP_TO_ERP,
    )


def customers_scan_task() -> dict[str, Any]:
    """Schedule: scan shop customer changes for every integration with the customers flow."""
    reports = {}
    for integration in Integration.objects.filter(is_active=True).select_related(
        "shop_connection", "erp_connection"
    ):
        if integration.flow_enabled(FLOW):
            reports[integration.slug] = customers_scan(integration=integration)
    return reports
