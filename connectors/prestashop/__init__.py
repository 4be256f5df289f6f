"""The PrestaShop Webservice (`/api/`) connector: client, translation, catalog, simulator.

Wire formats follow ../shared/reference/prestashop/README.md (the published behaviour of the
1.6 to 9.x legacy webservice); each quirk handled here cites it by section.
"""
