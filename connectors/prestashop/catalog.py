"""Target field catalogs of the writes this connector performs (for mappings and validation).

Lengths and required flags follow the PrestaShop ObjectModel definitions behind the resources
(reference §4 and D8 schemas: `schema=synopsis` gives the same per shop).
"""

from connectors.catalog import Catalog, FieldType, TargetField

SYSTEM = "prestashop"

ORDER_HISTORY = Catalog(
    SYSTEM,
    "order_histories.create",
    (
        TargetField("id_order", FieldType.INTEGER, required=True),
        TargetField("id_order_state", FieldType.INTEGER, required=True),
        TargetField("id_employee", FieldType.INTEGER),
    ),
    "Change an order's state (POST order_histories; sendemail per connection option).",
)

ORDER_CARRIER_TRACKING = Catalog(
    SYSTEM,
    "order_carriers.tracking",
    (
        TargetField("id_order", FieldType.INTEGER, required=True),
        TargetField("tracking_number", FieldType.STRING, max_length=64, required=True),
    ),
    "Set the tracking number on the order's carrier row (PATCH or read-modify-write PUT).",
)

ORDER_PAYMENT = Catalog(
    SYSTEM,
    "order_payments.create",
    (
        TargetField("order_reference", FieldType.STRING, max_length=9, required=True),
        TargetField("id_currency", FieldType.INTEGER, required=True),
        TargetField("amount", FieldType.NUMBER, required=True, decimals=6),
        TargetField("payment_method", FieldType.STRING, max_length=255),
        TargetField("conversion_rate", FieldType.NUMBER, decimals=6),
        TargetField("transaction_id", FieldType.STRING, max_length=254),
        TargetField("card_number", FieldType.STRING, max_length=254),
        TargetField("card_brand", FieldType.STRING, max_length=254),
        TargetField("card_expiration", FieldType.STRING, max_length=7),
        TargetField("card_holder", FieldType.STRING, max_length=254),
        TargetField("date_add", FieldType.DATETIME),
    ),
    "Record a payment; it ties to orders by reference, shared by orders split from a cart.",
)

STOCK_AVAILABLE = Catalog(
    SYSTEM,
    "stock_availables.quantity",
    (
        TargetField("id_product", FieldType.INTEGER, required=True),
        TargetField(
            "id_product_attribute",
            FieldType.INTEGER,
            required=True,
            description="0 for a product without combinations",
        ),
        TargetField("quantity", FieldType.INTEGER, required=True),
    ),
    "Set sellable stock of an existing row (rows are never created or deleted by the API).",
)

CUSTOMER = Catalog(
    SYSTEM,
    "customers.save",
    (
        TargetField("email", FieldType.STRING, max_length=255, required=True),
        TargetField("firstname", FieldType.STRING, max_length=255, required=True),
        TargetField("lastname", FieldType.STRING, max_length=255, required=True),
        TargetField("company", FieldType.STRING, max_length=255),
        TargetField("is_guest", FieldType.BOOLEAN),
    ),
    "Create or update a customer (a random password is set on create).",
)

ADDRESS = Catalog(
    SYSTEM,
    "addresses.save",
    (
        TargetField("id_customer", FieldType.INTEGER, required=True),
        TargetField("id_country", FieldType.INTEGER, required=True),
        TargetField("alias", FieldType.STRING, max_length=32, required=True),
        TargetField("company", FieldType.STRING, max_length=255),
        TargetField("lastname", FieldType.STRING, max_length=255, required=True),
        TargetField("firstname", FieldType.STRING, max_length=255, required=True),
        TargetField("address1", FieldType.STRING, max_length=128, required=True),
        TargetField("address2", FieldType.STRING, max_length=128),
        TargetField("postcode", FieldType.STRING, max_length=12),
        TargetField("city", FieldType.STRING, max_length=64, required=True),
        TargetField("phone", FieldType.STRING, max_length=32),
        TargetField("phone_mobile", FieldType.STRING, max_length=32),
        TargetField("vat_number", FieldType.STRING, max_length=32),
    ),
    "Create or update an address; the country is resolved from its ISO code.",
)

# Item master written by the ERP. Sizes from the Product / Combination ObjectModel
# definitions of the 1.7/8 core [unverified: not in the reference pack; `schema=synopsis`
# on the shop gives the real ones].
PRODUCT = Catalog(
    SYSTEM,
    "products.save",
    (
        TargetField("reference", FieldType.STRING, max_length=64, required=True),
        TargetField(
            "name",
            FieldType.STRING,
            max_length=128,
            required=True,
            description="multi-language: {language id: text}; required in the default one",
        ),
        TargetField("ean13", FieldType.STRING, max_length=13, description="digits only"),
        TargetField("price", FieldType.NUMBER, required=True, decimals=6),
        TargetField("weight", FieldType.NUMBER, decimals=6),
        TargetField("active", FieldType.BOOLEAN),
    ),
    "Create or update a product the ERP owns, found by reference (only changed fields).",
)

COMBINATION = Catalog(
    SYSTEM,
    "combinations.save",
    (
        TargetField("id_product", FieldType.INTEGER, required=True),
        TargetField("reference", FieldType.STRING, max_length=64, required=True),
        TargetField("ean13", FieldType.STRING, max_length=13, description="digits only"),
        TargetField("price", FieldType.NUMBER, decimals=6, description="price impact"),
        TargetField("weight", FieldType.NUMBER, decimals=6, description="weight impact"),
    ),
    "Create or update a product's combination, found by reference (only changed fields).",
)

ORDER_FLOW_CATALOGS: tuple[Catalog, ...] = (
    ORDER_HISTORY,
    ORDER_CARRIER_TRACKING,
    ORDER_PAYMENT,
    STOCK_AVAILABLE,
    CUSTOMER,
    ADDRESS,
)
ITEM_MASTER_CATALOGS: tuple[Catalog, ...] = (PRODUCT, COMBINATION)
# Everything published to the mappings app.
CATALOGS: tuple[Catalog, ...] = ORDER_FLOW_CATALOGS + ITEM_MASTER_CATALOGS
# Kept to the order-flow writes it always held (a test pins the set); ALL_BY_OPERATION has
# the item master too.
BY_OPERATION: dict[str, Catalog] = {c.operation: c for c in ORDER_FLOW_CATALOGS}
ALL_BY_OPERATION: dict[str, Catalog] = {c.operation: c for c in CATALOGS}
