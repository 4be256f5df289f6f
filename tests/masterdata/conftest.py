from tests.stock.conftest import m3, m3_stock, shop  # noqa: F401  (fixtures)
