"""Mappings: field and value mappings that turn canonical documents into target payloads."""
