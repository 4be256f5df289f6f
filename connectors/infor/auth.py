"""ION API OAuth 2.0: the service account's password grant, with a token shared by workers.

Reference §2: password grant at pu + ot with saak/sask as username/password; refresh about a
minute before expiry; a failed refresh falls back to a new grant; revoke at pu + or. The token
lives in Django's cache under the connection's id, so every worker of every process using the
same cache shares one grant instead of each asking for its own.
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.core.cache import cache

from connectors.errors import AuthError, ConnectorError, RateLimitedError, TransientError
from connectors.http import classify_response, parse_retry_after
from connectors.infor.ionapi import IonApiCredentials
from connectors.redaction import redact_text, register_secret
from connectors.validators import UnsafeDestination, request_guard

logger = logging.getLogger(__name__)

# Refresh this many seconds before the token expires (Infor's own Postman script uses 60 s).
REFRESH_MARGIN = 60.0
# How long a cached grant is kept past its access token's expiry, for its refresh token.
REFRESH_TOKEN_KEEP = 8 * 3600
# A worker fetching a token holds this cache lock so the others wait instead of each granting.
GRANT_LOCK_SECONDS = 30
# How long another worker waits for that grant before asking for its own.
GRANT_WAIT_SECONDS = 5.0
# How client id/secret reach the token endpoint: Infor accepts both (reference §2).
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def token_cache_key(connection_key: str) -> str:
    return f"infor_m3:token:{connection_key}"


def connection_key_for(connection: Any) -> str:
    """The token cache key of a Connection: one grant per connection, shared by workers."""
    return f"connection-{connection.pk}"


def connection_token_revoke(connection: Any, *, credentials: dict[str, Any] | None = None) -> bool:
    """Revoke a connection's shared grant, e.g. when its .ionapi is replaced (rotation).

    Pass the *old* credentials when rotating: the grant belongs to the old client id.
    """
    if getattr(connection, "kind", "cloud") == "on_premises":
        return False
    ionapi = credentials if credentials is not None else connection.credentials
    creds = IonApiCredentials.from_dict(ionapi)
    if not creds.has_service_account:
        cache.delete(token_cache_key(connection_key_for(connection)))
        return False
    return IonTokenProvider(creds, connection_key=connection_key_for(connection)).revoke()


def default_connection_key(credentials: IonApiCredentials) -> str:
    """A key for clients built without a Connection: same app and account share a token."""
    raw = f"{credentials.token_url}|{credentials.client_id}|{credentials.username}"
    return "app-" + hashlib.sha256(raw.encode()).hexdigest()[:24]


class IonTokenProvider:
    """Hands out a valid bearer token; thread-safe; shares grants through Django's cache."""

    def __init__(
        self,
        credentials: IonApiCredentials,
        *,
        connection_key: str | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        auth_method: str = "client_secret_basic",
        scope: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not credentials.has_service_account:
            raise AuthError(
                "the .ionapi file has no service account keys (saak, sask): download it again "
                "with 'Create Service Account' ticked (the M3 connector uses the password grant)",
                field="saak",
            )
        if auth_method not in TOKEN_AUTH_METHODS:
            raise AuthError(
                f"token_auth_method {auth_method!r} is not one of {', '.join(TOKEN_AUTH_METHODS)}",
                field="token_auth_method",
                value=auth_method,
            )
        register_secret([credentials.client_secret, credentials.password, credentials.username])
        self.credentials = credentials
        self.cache_key = token_cache_key(connection_key or default_connection_key(credentials))
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: dict[str, Any] | None = None
        self.oauth = OAuth2Session(
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            token_endpoint_auth_method=auth_method,
            revocation_endpoint_auth_method="client_secret_basic",
            scope=scope,
        )
        if session is not None:
            # Share the connection pool (and any test adapter) of the API client.
            self.oauth.adapters = session.adapters
        self.oauth.register_compliance_hook("access_token_response", self._check_response)
        self.oauth.register_compliance_hook("refresh_token_response", self._check_response)
        # counters, for the connection check and tests
        self.grants = 0
        self.refreshes = 0

    # -- public -------------------------------------------------------------------------

    def access_token(self) -> str:
        """A token valid for at least REFRESH_MARGIN seconds more."""
        token = self._token
        if token and self._fresh(token):
            return token["access_token"]
        with self._lock:
            token = cache.get(self.cache_key)
            if token and self._fresh(token):
                self._token = token
                return token["access_token"]
            token = self._renew(token)
            return token["access_token"]

    def invalidate(self, access_token: str) -> None:
        """The gateway refused `access_token` (401): forget it, unless already replaced."""
        with self._lock:
            cached = cache.get(self.cache_key)
            if cached and cached.get("access_token") == access_token:
                # Keep the refresh token: the next call refreshes instead of granting anew.
                cached = {**cached, "expires_at": 0}
                cache.set(self.cache_key, cached, REFRESH_TOKEN_KEEP)
            if self._token and self._token.get("access_token") == access_token:
                self._token = None

    def revoke(self) -> bool:
        """Revoke the shared grant (on credential rotation or shutdown) and forget it.

        Revoking the refresh token also ends its access token (reference §2).
        """
        with self._lock:
            token = cache.get(self.cache_key) or self._token
            cache.delete(self.cache_key)
            self._token = None
        if not token or not self.credentials.revoke_url:
            return False
        value = token.get("refresh_token") or token.get("access_token")
        hint = "refresh_token" if token.get("refresh_token") else "access_token"
        try:
            response = self.oauth.revoke_token(
                self.credentials.revoke_url, token=value, token_type_hint=hint, timeout=self.timeout
            )
        except requests.RequestException as exc:
            logger.warning("ION token revocation failed: %s", redact_text(str(exc)))
            return False
        if response.status_code >= 400:
            logger.warning("ION token revocation refused: HTTP %s", response.status_code)
            return False
        return True

    # -- internals ----------------------------------------------------------------------

    def _fresh(self, token: dict[str, Any]) -> bool:
        return float(token.get("expires_at") or 0) - REFRESH_MARGIN > self._clock()

    def _renew(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        lock_key = f"{self.cache_key}:lock"
        have_lock = cache.add(lock_key, 1, GRANT_LOCK_SECONDS)
        if not have_lock:
            token = self._wait_for_other_worker()
            if token:
                self._token = token
                return token
        try:
            token = None
            if previous and previous.get("refresh_token"):
                try:
                    token = self._request(refresh_token=previous["refresh_token"])
                    self.refreshes += 1
                except AuthError as exc:
                    # Refresh token expired or revoked: a fresh grant still works (S9, S23).
                    logger.info("ION token refresh refused, granting anew: %s", exc)
            if token is None:
                token = self._request()
                self.grants += 1
            cache.set(self.cache_key, token, self._cache_timeout(token))
            self._token = token
            return token
        finally:
            if have_lock:
                cache.delete(lock_key)

    def _wait_for_other_worker(self) -> dict[str, Any] | None:
        deadline = time.monotonic() + GRANT_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)
            token = cache.get(self.cache_key)
            if token and self._fresh(token):
                return token
        return None

    def _cache_timeout(self, token: dict[str, Any]) -> int:
        return max(1, int(float(token["expires_at"]) - self._clock())) + REFRESH_TOKEN_KEEP

    def _request(self, *, refresh_token: str | None = None) -> dict[str, Any]:
        url = self.credentials.token_url
        try:
            # The token URL comes from the uploaded .ionapi file (pu + ot): the same SSRF
            # guard as every other request of ours.
            request_guard.check(url)
        except UnsafeDestination as exc:
            raise AuthError(f"ION token URL refused: {exc}", field="ionapi") from None
        try:
            if refresh_token:
                raw = self.oauth.refresh_token(
                    url, refresh_token=refresh_token, timeout=self.timeout
                )
            else:
                raw = self.oauth.fetch_token(
                    url,
                    grant_type="password",
                    username=self.credentials.username,
                    password=self.credentials.password,
                    timeout=self.timeout,
                )
        except ConnectorError:
            raise
        except OAuthError as exc:
            raise AuthError(
                f"ION token request refused: {exc.error}: {redact_text(exc.description or '')}"
                " — check the .ionapi file and that the service account is active",
                field="ionapi",
            ) from None
        except requests.Timeout:
            raise TransientError("ION token request timed out") from None
        except requests.ConnectionError as exc:
            raise TransientError(
                f"ION token endpoint unreachable: {redact_text(str(exc))}"
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise AuthError(f"ION token response unusable: {redact_text(str(exc))}") from None
        access = raw.get("access_token")
        if not access:
            raise AuthError("ION token response has no access_token")
        expires_in = float(raw.get("expires_in") or 0) or 3600.0
        token = {
            "access_token": access,
            "refresh_token": raw.get("refresh_token") or refresh_token or "",
            "expires_at": self._clock() + expires_in,
            "token_type": raw.get("token_type", "Bearer"),
        }
        register_secret([token["access_token"], token["refresh_token"]])
        return token

    @staticmethod
    def _check_response(response: requests.Response) -> requests.Response:
        """Classify the token endpoint's transport failures before authlib parses the body."""
        status = response.status_code
        if status < 400:
            return response
        if status == 429:
            raise RateLimitedError(
                "ION token endpoint rate-limited (HTTP 429)",
                status_code=429,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status in (400, 401):
            return response  # an OAuth error body: authlib raises OAuthError with its text
        error = classify_response(response, what="ION token request")
        raise error if error else AuthError(f"ION token request failed: HTTP {status}")
