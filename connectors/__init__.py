"""Connectors: the canonical model, the HTTP base with its error taxonomy, and one package per
system (prestashop, infor, tims). A connector knows nothing of mappings or sync records."""
