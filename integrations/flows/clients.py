"""A flow's clients: one PrestaShop client and one ERP object per flow instance, made on first
use and closed with the flow. One instance serves a batch's I/O threads (the pipeline reuses
it), so creation is locked: two threads must not each open (and leak) a client."""

import threading
from typing import Any

from connectors.prestashop.client import PrestaShopClient
from integrations.flows.base import Flow
from integrations.flows.erp import erp_adapter
from integrations.models import Integration


class ShopErpFlow(Flow):
    """Base for flows between the shop and the ERP: `self.shop` and `self.erp`.

    `make_erp()` builds the ERP object (by default the order-level ERP adapter); a flow that
    needs another view of the ERP overrides it."""

    def __init__(self, integration: Integration) -> None:
        super().__init__(integration)
        self._clients_lock = threading.Lock()
        self._shop: PrestaShopClient | None = None
        self._erp: Any = None

    def make_erp(self) -> Any:
        return erp_adapter(self.integration)

    @property
    def shop(self) -> PrestaShopClient:
        with self._clients_lock:
            if self._shop is None:
                self._shop = PrestaShopClient.from_connection(self.integration.shop_connection)
            return self._shop

    @property
    def erp(self) -> Any:
        with self._clients_lock:
            if self._erp is None:
                self._erp = self.make_erp()
            return self._erp

    def close(self) -> None:
        if self._shop is not None:
            self._shop.close()
        if self._erp is not None:
            self._erp.close()
