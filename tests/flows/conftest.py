from tests.e2e.conftest import (  # noqa: F401  (fixtures shared with the end-to-end tests)
    _fresh_caches,
    m3,
    m3_integration,
    shop,
    tims,
    tims_integration,
)
