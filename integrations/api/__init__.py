"""REST API under /api/v1/: sync records, reports, reconciliation, configuration."""
