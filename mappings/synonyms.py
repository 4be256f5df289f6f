"""What target fields are called in the shop's words: the name half of mapping suggestions.

Two tables, both data an engineer extends without touching the ranker:

* FIELD_SYNONYMS: a target field name (case-insensitive, any ERP) → canonical paths or leaf
  names that usually feed it, strongest first. Written from the ERPs' field dictionaries
  (M3's MVXD names, the TIMS profile), not from the default mapping sets; they are the kind of
  knowledge an integrator carries ("CUOR is the customer's order number: the shop reference").
* WORD_SYNONYMS: word-level equivalents used when comparing a target's name and description
  with a source path's words ("qty" ~ "quantity", "po" ~ "reference").
"""

# Target field → source phrases. A phrase with a dot is a path (matched on the path with any
# `order.` prefix and `[0]` indexes removed); without a dot it is a leaf name.
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    # Infor M3 (MVXD dictionary names)
    "cuno": ("context.customer_number", "customer_number", "customer.id"),
    "cuor": ("reference", "order_reference", "natural_key"),
    "ortp": ("shop_id", "order_type"),
    "ordt": ("placed_at", "order_date", "created_at"),
    "cucd": ("currency",),
    "cucs": ("currency",),
    "whlo": ("warehouse", "shipping_address.country"),
    "modl": ("carrier", "delivery_method"),
    "tedl": ("carrier",),
    "tepy": ("payment_method",),
    "yref": ("note", "customer.last_name"),
    "oref": ("reference", "id"),
    "orno": ("context.order_number", "order_number", "erp_order_id"),
    "itno": ("sku", "reference", "item_number"),
    "popn": ("ean",),
    "orqt": ("quantity",),
    "orqa": ("quantity",),
    "sapr": ("unit_price", "price"),
    "nepr": ("unit_price",),
    "dip1": ("discount",),
    "itds": ("name",),
    "fuds": ("description",),
    "cupo": ("line_number",),
    "ponr": ("line_number",),
    "cunm": ("company", "name", "last_name"),
    "cua1": ("line1",),
    "cua2": ("line2",),
    "cua3": ("line3",),
    "pono": ("postcode",),
    "town": ("city",),
    "cscd": ("country",),
    "ecar": ("region",),
    "phno": ("phone", "mobile"),
    "phn2": ("mobile",),
    "mail": ("email",),
    "emal": ("email",),
    "lncd": ("language",),
    "vrno": ("vat_number",),
    "cutm": ("group",),
    "grwe": ("weight",),
    "unms": ("unit",),
    "etrn": ("tracking_number",),
    # TIMS profile (assumed interface) and generic names
    "customer_code": ("context.customer_code", "customer_number", "customer.id"),
    "customer_po": ("reference", "natural_key"),
    "order_date": ("placed_at",),
    "location_id": ("warehouse", "shipping_address.country"),
    "ship_via": ("carrier",),
    "freight": ("total_shipping",),
    "notes": ("note",),
    "line_no": ("line_number",),
    "item_code": ("sku", "reference"),
    "description": ("name", "description"),
    "external_ref": ("id",),
}

# Word → the canonical word it stands for (both sides are normalised through it).
WORD_SYNONYMS: dict[str, str] = {
    "qty": "quantity",
    "quantities": "quantity",
    "amount": "price",
    "cost": "price",
    "po": "reference",
    "ref": "reference",
    "purchase": "reference",
    "desc": "name",
    "description": "name",
    "title": "name",
    "item": "sku",
    "article": "sku",
    "product": "sku",
    "code": "sku",
    "zip": "postcode",
    "postal": "postcode",
    "zipcode": "postcode",
    "town": "city",
    "mail": "email",
    "telephone": "phone",
    "tel": "phone",
    "lang": "language",
    "dt": "date",
    "placed": "date",
    "curr": "currency",
    "ccy": "currency",
    "nation": "country",
    "freight": "shipping",
    "delivery": "shipping",
    "ship": "shipping",
    "carrier": "shipping",
    "remark": "note",
    "remarks": "note",
    "comment": "note",
    "notes": "note",
    "no": "number",
    "num": "number",
    "nr": "number",
    "line1": "address",
    "street": "address",
}

# Words carrying no meaning of their own when comparing names.
STOP_WORDS: frozenset[str] = frozenset(
    {"the", "of", "a", "an", "to", "for", "in", "on", "d", "u", "field", "not", "verified", "s"}
)
