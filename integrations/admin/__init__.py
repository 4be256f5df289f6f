from integrations.admin import registrations  # noqa: F401
from integrations.admin import stock as stock_admin  # noqa: F401
