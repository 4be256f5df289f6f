"""Orchestration: integrations, sync records and their pipeline, links, events, flows."""
