"""Infor M3 connector: ION API gateway (cloud) or m3api-rest (on-premises).

See /work/shared/reference/infor/README.md for the wire formats this package follows; every
fact marked [U] there is a setting here (Connection.options), not a hard-coded guess.
"""
