"""Authentication backends: django-axes' lockout in front of Django's ModelBackend."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class AxesLoginBackend(AxesStandaloneBackend):
    """Throttles every login that comes over HTTP; passes on calls made without a request.

    axes refuses `authenticate()` without a request, which breaks in-process callers that
    have no client to lock out (the test client's `login()`, a shell). Every HTTP login path
    here (the admin's login form, DRF's session login) passes the request, so nothing an
    attacker can reach skips the lockout; ModelBackend then checks the password as usual.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
