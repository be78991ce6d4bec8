"""Lab-minted access tokens: signing, validation, JWKS and a TokenCredential for SDK clients.

Each tenant has its own RS256 key (as Entra signs with RS256 and publishes a JWKS).
Token times come from the lab's SimClock, so "expired" is a matter of advancing the
clock, never of waiting. Authorisation decisions use the directory's *current* roles
(as Graph does), not the ``wids`` snapshot in the token.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from fakes import keys
from fakes.graph import catalog as C
from fakes.graph.errors import TOKEN_EXPIRED, TOKEN_INVALID, TOKEN_MISSING, GraphError
from fakes.graph.model import Principal, User
from fakes.graph.tenant import Tenant

#: What a first-party admin tool would be consented to; role checks still apply on top.
DEFAULT_USER_SCOPES = (
    "User.Read",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "AuditLog.Read.All",
    "Organization.Read.All",
    "RoleManagement.Read.Directory",
    "OnPremDirectorySynchronization.ReadWrite.All",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.Read.All",
    "Policy.ReadWrite.Authorization",
    "Group.Read.All",
)
DEFAULT_APP_ROLES = (
    "User.Read.All",
    "Directory.Read.All",
    "AuditLog.Read.All",
    "Organization.Read.All",
    "RoleManagement.Read.Directory",
    "OnPremDirectorySynchronization.Read.All",
)
VALID_AUDIENCES = frozenset({C.GRAPH_RESOURCE, C.GRAPH_RESOURCE + "/", C.GRAPH_APP_ID, C.PORTAL_APP_ID})


@dataclass(frozen=True, slots=True)
class LabApp:
    """The tenant's registered tooling application (client credentials)."""

    app_id: str
    object_id: str
    secret: str
    display_name: str = "simlab tooling"


class _Keys:
    def __init__(self) -> None:
        self.private = keys.take()  # made ahead by `simlab serve` (fakes/keys.py), else now
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")
        self.public = self.private.public_key()


def _keys(tenant: Tenant) -> _Keys:
    with tenant.lock:
        if tenant._signing is None:
            tenant._signing = _Keys()
        return tenant._signing


def lab_app(tenant: Tenant) -> LabApp:
    """The tenant's tooling app; ids derive from the tenant seed."""
    with tenant.lock:
        app = getattr(tenant, "_lab_app", None)
        if app is None:
            import random
            import uuid

            rng = random.Random(f"lab-app:{tenant.seed}")
            app = LabApp(
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                f"lab-secret-{tenant.seed}",
            )
            tenant._lab_app = app  # type: ignore[attr-defined]
        return app


def jwks(tenant: Tenant) -> dict:
    """The tenant's signing keys as a JWKS document."""
    keys = _keys(tenant)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(keys.public, as_dict=True)
    jwk.update({"kid": keys.kid, "use": "sig", "alg": "RS256"})
    return {"keys": [jwk]}


def issuer(tenant: Tenant) -> str:
    return f"https://sts.windows.net/{tenant.id}/"


def make_token(
    tenant: Tenant,
    user_or_app: User | str,
    scopes: Iterable[str] | None = None,
    lifetime: float = 3600,
    *,
    roles: Iterable[str] | None = None,
    audience: str = C.GRAPH_RESOURCE,
) -> str:
    """Mint a token: for a user (``User`` or UPN; delegated ``scopes``) or ``"app"`` (app ``roles``)."""
    now = int(tenant.clock.timestamp())
    app = lab_app(tenant)
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer(tenant),
        "iat": now,
        "nbf": now,
        "exp": now + int(lifetime),
        "tid": tenant.id,
        "appid": app.app_id,
        "ver": "1.0",
    }
    if isinstance(user_or_app, str) and user_or_app == "app":
        claims.update(
            oid=app.object_id,
            sub=app.object_id,
            idtyp="app",
            app_displayname=app.display_name,
            roles=sorted(roles if roles is not None else DEFAULT_APP_ROLES),
        )
    else:
        user = user_or_app if isinstance(user_or_app, User) else tenant.get_user(user_or_app)
        if user is None:
            raise KeyError(f"no such user: {user_or_app!r}")
        claims.update(
            oid=user.id,
            sub=user.id,
            upn=user.user_principal_name,
            unique_name=user.user_principal_name,
            name=user.display_name,
            idtyp="user",
            wids=sorted(tenant.roles_of(user)),
            scp=" ".join(scopes if scopes is not None else DEFAULT_USER_SCOPES),
        )
    keys = _keys(tenant)
    return jwt.encode(claims, keys.private, algorithm="RS256", headers={"kid": keys.kid})


def verify_token(tenant: Tenant, authorization: str | None) -> Principal:
    """Validate ``Authorization: Bearer ...``; raise the 401 Graph would answer."""
    if not authorization or not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
        raise GraphError(401, TOKEN_MISSING)
    token = authorization[7:].strip()
    claims = _decode(tenant, token)
    if claims.get("aud") not in VALID_AUDIENCES or claims.get("tid") != tenant.id:
        raise GraphError(401, TOKEN_INVALID)
    if claims["exp"] <= tenant.clock.timestamp():
        raise GraphError(401, TOKEN_EXPIRED)
    app_id = str(claims.get("appid", ""))
    if claims.get("idtyp") == "app":
        return Principal(
            "app",
            claims["oid"],
            claims.get("app_displayname", app_id),
            app_id,
            roles=frozenset(claims.get("roles", ())),
            claims=claims,
        )
    user = tenant.users.get(claims["oid"])
    if user is None or not user.account_enabled:
        raise GraphError(401, TOKEN_INVALID)
    return Principal(
        "user",
        user.id,
        user.user_principal_name,
        app_id,
        scopes=frozenset(str(claims.get("scp", "")).split()),
        wids=tenant.roles_of(user),
        claims=claims,
    )


_CACHE_SIZE = 2048


def _decode(tenant: Tenant, token: str) -> dict:
    """Signature check, cached per token: PyJWT's decode costs ~1.5 ms and clients reuse tokens.

    Only the signature/format result is cached; expiry and the user's state are checked per request.
    """
    cache: dict[str, dict] = tenant.__dict__.setdefault("_token_cache", {})
    claims = cache.get(token)
    if claims is not None:
        return claims
    keys = _keys(tenant)
    try:
        claims = jwt.decode(
            token,
            keys.public,
            algorithms=["RS256"],
            issuer=issuer(tenant),
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "require": ["exp", "oid", "tid"],
            },
        )
    except jwt.PyJWTError as exc:
        raise GraphError(401, TOKEN_INVALID) from exc
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[token] = claims
    return claims


def token_response(tenant: Tenant, form: dict[str, str]) -> tuple[int, dict]:
    """The v2.0 token endpoint (ROPC and client credentials) for azure-identity style clients."""
    grant = form.get("grant_type", "")
    app = lab_app(tenant)
    if grant == "client_credentials":
        if form.get("client_id") != app.app_id or form.get("client_secret") != app.secret:
            return 401, _aad_error("invalid_client", "AADSTS7000215: Invalid client secret provided.")
        token = make_token(tenant, "app")
    elif grant == "password":
        try:
            user = tenant.authenticate(form.get("username", ""), form.get("password", ""))
        except Exception:
            return 400, _aad_error(
                "invalid_grant",
                "AADSTS50126: Error validating credentials due to invalid username or password.",
            )
        token = make_token(tenant, user)
    else:
        return 400, _aad_error(
            "unsupported_grant_type", f"AADSTS70003: The app requested an unsupported grant type '{grant}'."
        )
    return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}


def _aad_error(error: str, description: str) -> dict:
    # Shape of Entra's OAuth error body; AADSTS texts from Entra's published error list (not in FACTS).
    return {"error": error, "error_description": description, "error_codes": [int(description[6:11])]}


class LabCredential:
    """An azure.core ``TokenCredential``: ``get_token`` mints a lab token for a user or the app.

    Usable wherever azure-identity credentials go (``GraphServiceClient(credentials=...)``).
    """

    def __init__(
        self,
        tenant: Tenant,
        user_or_app: User | str = "app",
        *,
        scopes: Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
        lifetime: float = 3600,
    ) -> None:
        self.tenant = tenant
        self.subject = user_or_app
        self.scopes = None if scopes is None else tuple(scopes)
        self.roles = None if roles is None else tuple(roles)
        self.lifetime = lifetime
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        self.calls += 1
        token = make_token(self.tenant, self.subject, self.scopes, self.lifetime, roles=self.roles)
        return AccessToken(token, int(self.tenant.clock.timestamp() + self.lifetime))

    def close(self) -> None:
        """Part of the TokenCredential protocol; nothing to release."""
