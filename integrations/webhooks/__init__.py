"""Signed incoming webhooks (Standard Webhooks): verify, store raw, process asynchronously."""
