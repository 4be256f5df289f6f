"""Flows: what one kind of record does at each pipeline step (see base.Flow)."""
