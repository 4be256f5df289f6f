from integrations.admin import registrations  # noqa: F401
