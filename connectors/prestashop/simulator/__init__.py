"""A simulator of the PrestaShop Webservice, for tests, the demo and benchmarks."""

from connectors.prestashop.simulator.faults import Faults
from connectors.prestashop.simulator.server import DEFAULT_KEY, PrestaShopSimulator

__all__ = ["DEFAULT_KEY", "Faults", "PrestaShopSimulator"]
