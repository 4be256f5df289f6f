"""Authentication for the TIMS profile: OAuth 2.0 client credentials, an API key, or basic.

ASSUMED INTERFACE: which of the three a TIMS installation uses is unknown; the profile's
auth_mode picks one. The client-credentials token is cached (in the client and in Django's
cache, so the workers of a process pool share one grant) and fetched again REFRESH_MARGIN
seconds before it expires, or at once when the server answers 401 to it.
"""

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.core.cache import cache

from connectors.errors import AuthError, ConnectorError, TransientError
from connectors.http import classify_response
from connectors.redaction import redact_text, register_secret
from connectors.validators import UnsafeDestination, request_guard

# Fetch a new token this many seconds before the current one expires.
REFRESH_MARGIN = 30.0


class ClientCredentialsToken:
    """A bearer token from the client-credentials grant, cached and renewed; thread-safe."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        auth_method: str = "client_secret_post",
        default_lifetime: int = 3600,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id or not client_secret:
            raise AuthError(
                "TIMS credentials need client_id and client_secret for the "
                "bearer_client_credentials auth mode",
                field="client_id" if not client_id else "client_secret",
            )
        register_secret(client_secret)
        self.token_url = token_url
        self.scope = scope
        self.default_lifetime = default_lifetime
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: dict[str, Any] | None = None
        raw_key = f"{token_url}|{client_id}|{scope or ''}"
        self.cache_key = "tims:token:" + hashlib.sha256(raw_key.encode()).hexdigest()[:32]
        self.oauth = OAuth2Session(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method=auth_method,
            scope=scope,
        )
        if session is not None:
            self.oauth.adapters = session.adapters  # share the pool (and test adapters)
        self.oauth.register_compliance_hook("access_token_response", self._check_response)
        self.grants = 0  # how many tokens were fetched: for tests and the connection check

    def access_token(self) -> str:
        with self._lock:
            token = self._token
            if not self._fresh(token):
                token = cache.get(self.cache_key)
                if not self._fresh(token):
                    token = self._fetch()
                    timeout = max(1, int(float(token["expires_at"]) - self._clock()))
                    cache.set(self.cache_key, token, timeout)
                self._token = token
            assert token is not None
            return str(token["access_token"])

    def invalidate(self, access_token: str) -> None:
        """The server refused this token: forget it unless another thread already renewed it."""
        with self._lock:
            if self._token and self._token.get("access_token") == access_token:
                self._token = None
            cached = cache.get(self.cache_key)
            if cached and cached.get("access_token") == access_token:
                cache.delete(self.cache_key)

    def _fresh(self, token: dict[str, Any] | None) -> bool:
        return bool(token) and float(token["expires_at"]) - REFRESH_MARGIN > self._clock()

    def _fetch(self) -> dict[str, Any]:
        try:
            request_guard.check(self.token_url)  # the SSRF guard of every request of ours
        except UnsafeDestination as exc:
            raise AuthError(f"TIMS token URL refused: {exc}", field="token_url") from None
        try:
            raw = self.oauth.fetch_token(
                self.token_url, grant_type="client_credentials", timeout=self.timeout
            )
        except OAuthError as exc:
            raise AuthError(
                f"TIMS token request refused: {exc.error}: {exc.description or ''}".rstrip(": "),
                field="client_id",
            ) from None
        except requests.Timeout as exc:
            raise TransientError(f"TIMS token request timed out: {redact_text(str(exc))}") from None
        except requests.ConnectionError as exc:
            raise TransientError(
                f"TIMS token request could not connect: {redact_text(str(exc))}"
            ) from None
        except ConnectorError:
            raise
        except ValueError as exc:  # a non-JSON token response
            raise TransientError(f"TIMS token response unreadable: {exc}") from None
        token = dict(raw)
        if "access_token" not in token:
            raise AuthError("TIMS token response has no access_token", field="access_token")
        register_secret(token["access_token"])
        lifetime = float(token.get("expires_in") or self.default_lifetime)
        token["expires_at"] = self._clock() + lifetime
        self.grants += 1
        return token

    def _check_response(self, response: requests.Response) -> requests.Response:
        """authlib compliance hook: an OAuth error body is authlib's; anything else is ours."""
        if response.status_code < 400:
            return response
        if response.status_code < 500 and response.status_code not in (408, 429):
            try:
                if "error" in response.json():
                    return response  # authlib raises OAuthError, turned into AuthError above
            except ValueError:
                pass
        error = classify_response(response, what="TIMS token request")
        if isinstance(error, ConnectorError) and response.status_code in (400, 401, 403):
            error = AuthError(error.message, status_code=response.status_code, field="client_id")
        if error is not None:
            raise error
        return response
