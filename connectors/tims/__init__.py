"""TIMS connector — ASSUMED INTERFACE.

No public TIMS API specification exists (docs: ../shared/reference/tims/README.md and
connectors/tims/README.md). The REST profile's defaults (paths, auth, paging, field names,
error bodies) and the file-exchange layouts are OUR DESIGN, labelled as assumed; reaching a
real installation is configuration (Connection.options "profile" and "files") plus tests
built from its real payloads.
"""
