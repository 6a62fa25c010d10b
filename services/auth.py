"""Bearer tokens: HS256 JWTs whose subject is `shop:<platformId>` or `creator:<platformId>`."""

import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import jwt
from sqlalchemy import bindparam, select

from core.config import Settings
from core.errors import ShopInactive, Unauthenticated
from core.viewer import CREATOR, SELLER, Viewer
from models.database import GatedEngine, built_once, fetch
from models.tables import creator_t, shop_t
from services.catalog import shop_status

ALGORITHM = "HS256"
SUBJECT_KINDS = {"shop": SELLER, "creator": CREATOR}
DEFAULT_MAX_TTL_SECONDS = 86_400
DEFAULT_LEEWAY_SECONDS = 60.0
MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z


def resolve_secret(settings: Settings) -> str:
    """The signing secret: from settings, or (embedded SQLite only) kept in the data directory."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if not settings.is_sqlite:
        raise SystemExit("INBOX_JWT_SECRET must be set when DATABASE_URL points at PostgreSQL.")
    path = Path(settings.data_dir) / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def resolve_media_secret(settings: Settings) -> str:
    """The secret media links are signed with (never the JWT secret): INBOX_MEDIA_SECRET, or one kept in
    the data directory (every process of a deployment must share it: set it on several machines)."""
    if settings.media_secret:
        return settings.media_secret
    path = Path(settings.data_dir) / "media-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"media-secret.{secrets.token_hex(8)}")
        temporary.write_text(secrets.token_urlsafe(48))
        temporary.chmod(0o600)
        # Processes starting together on one data directory: the first rename wins, all read the same.
        try:
            path.hardlink_to(temporary)
        except FileExistsError:
            pass
        temporary.unlink()
    return path.read_text().strip()


def issue_token(
    secret: str,
    subject: str,
    ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS,
    max_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS,
) -> str:
    """A signed token for `subject`, valid for `ttl_seconds` (at most `max_ttl_seconds`, which the
    API refuses to exceed)."""
    kind, _, platform_id = subject.partition(":")
    if kind not in SUBJECT_KINDS or not platform_id:
        raise ValueError("subject must be shop:<platformId> or creator:<platformId>")
    if ttl_seconds > max_ttl_seconds:
        raise ValueError(
            f"a token may live at most {max_ttl_seconds} s (INBOX_MAX_TOKEN_TTL_SECONDS); {ttl_seconds} s asked"
        )
    now = int(time.time())
    return jwt.encode({"sub": subject, "iat": now, "exp": now + ttl_seconds}, secret, algorithm=ALGORITHM)


def bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send an Authorization: Bearer <token> header.")
    return token.strip()


def decode_subject(
    secret: str,
    token: str,
    max_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS,
    leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
) -> tuple[str, str, float]:
    """(role, platform id, Unix time until which it is accepted) of a valid token: signed, with
    numeric `exp` and `iat` and a string `sub`, issued at most `leeway_seconds` ahead of our clock,
    expired at most `leeway_seconds` ago, and living (exp - iat) at most `max_ttl_seconds`."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], leeway=leeway_seconds, options={"require": ["exp", "iat", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise Unauthenticated(
            f"The token is not valid yet: issued more than {leeway_seconds:g} s ahead of the server's clock."
        ) from None
    except jwt.MissingRequiredClaimError as error:
        raise Unauthenticated(f"The token has no {error.claim} claim.") from None
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"The token is invalid: {error}") from None
    # PyJWT reads exp and iat with int(), which takes strings, booleans, 400-digit integers and 1e308.
    exp, iat = _numeric_date(claims, "exp"), _numeric_date(claims, "iat")
    if exp - iat > max_ttl_seconds:
        raise Unauthenticated(f"The token lives longer than {max_ttl_seconds} s (exp - iat); ask for a shorter one.")
    kind, _, platform_id = claims["sub"].partition(":")
    if kind not in SUBJECT_KINDS or not platform_id:
        raise Unauthenticated("The token's subject is not a shop or a creator.")
    return SUBJECT_KINDS[kind], platform_id, exp + leeway_seconds


def _numeric_date(claims: dict[str, Any], name: str) -> int | float:
    """A claim that must be a JSON number of seconds since 1970, up to the year 9999 (bounded first,
    so that the arithmetic on it stays exact and cannot overflow)."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_NUMERIC_DATE:
        raise Unauthenticated(f"The token's {name} claim must be a number of seconds since 1970.")
    return value


def require_active_shop(viewer: Viewer) -> Viewer:
    """The viewer, unless a seller whose shop is not ACTIVE (ShopInactive)."""
    if viewer.is_seller and viewer.shop_status != "ACTIVE":
        raise ShopInactive(
            f"The shop is {str(viewer.shop_status).lower()}; its sellers have lost access to creator messages."
        )
    return viewer


_SHOP_BY_PLATFORM_ID = built_once(
    select(shop_t.c.id, shop_t.c.status).where(shop_t.c.platform_id == bindparam("platform_id"))
)
_CREATOR_BY_PLATFORM_ID = built_once(select(creator_t.c.id).where(creator_t.c.platform_id == bindparam("platform_id")))


async def find_viewer(engine: GatedEngine, role: str, platform_id: str) -> Viewer:
    """The viewer a token's subject names, read from the database now."""
    params = {"platform_id": platform_id}
    if role == SELLER:
        rows = await fetch(engine, _SHOP_BY_PLATFORM_ID, params)
        viewer = Viewer(SELLER, shop_id=rows[0].id, shop_status=rows[0].status) if rows else None
    else:
        rows = await fetch(engine, _CREATOR_BY_PLATFORM_ID, params)
        viewer = Viewer(CREATOR, creator_id=rows[0].id) if rows else None
    if viewer is None:
        raise Unauthenticated("The token's subject is not known.")
    return viewer


class Authenticator:
    """The viewer of an Authorization header, remembering what it may.

    A verified token's subject is kept while the token is accepted (verification gives the same
    answer every time). A subject's viewer, shop status included, is kept for `ttl_seconds`
    (0: read on every request) and dropped at once by `forget_shop` when a shop's status
    changes. Mutations call `recheck` before they run, so the cache only delays a read
    refusal, by at most `ttl_seconds`.
    """

    MAX_ENTRIES = 10_000

    def __init__(
        self,
        engine: GatedEngine,
        secret: str,
        ttl_seconds: float = 0.0,
        max_token_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS,
        leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
    ) -> None:
        self._engine, self._secret, self._ttl = engine, secret, ttl_seconds
        self._token_rules = (max_token_ttl_seconds, leeway_seconds)
        self._subjects: dict[str, tuple[str, str, float]] = {}
        self._viewers: dict[tuple[str, str], tuple[Viewer, float]] = {}

    async def authenticate(self, header: str | None) -> Viewer:
        """The header's viewer, with the shop's status (at most `ttl_seconds` old)."""
        role, platform_id = self._subject(bearer_token(header))
        if self._ttl <= 0:
            return await find_viewer(self._engine, role, platform_id)
        cached = self._viewers.get((role, platform_id))
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        viewer = await find_viewer(self._engine, role, platform_id)
        _bounded(self._viewers)[role, platform_id] = (viewer, now + self._ttl)
        return viewer

    def expiry(self, header: str | None) -> float:
        """When the token of a header that authenticated stops being accepted (a Unix time: its
        `exp` plus the clock-skew leeway, as for every request)."""
        token = bearer_token(header)
        cached = self._subjects.get(token)
        return cached[2] if cached is not None else decode_subject(self._secret, token, *self._token_rules)[2]

    async def recheck(self, viewer: Viewer) -> None:
        """Refuse (ShopInactive) a seller whose shop is not ACTIVE now, whatever the cache says.
        Without a cache the viewer was read for this request: nothing to do."""
        if not viewer.is_seller or self._ttl <= 0:
            return
        status = await shop_status(self._engine, viewer.own_shop_id)
        if status != viewer.shop_status:
            self.forget_shop(viewer.own_shop_id)
            require_active_shop(replace(viewer, shop_status=status))

    def forget_shop(self, shop_id: int) -> None:
        """Drop the cached viewers of a shop whose status changed."""
        for key, (viewer, _expires) in list(self._viewers.items()):
            if viewer.shop_id == shop_id:
                del self._viewers[key]

    def forget_all(self) -> None:
        """Drop every cached viewer (events may have been lost)."""
        self._viewers.clear()

    def _subject(self, token: str) -> tuple[str, str]:
        cached = self._subjects.get(token)
        if cached is not None and cached[2] > time.time():
            return cached[0], cached[1]
        role, platform_id, expires = decode_subject(self._secret, token, *self._token_rules)
        _bounded(self._subjects)[token] = (role, platform_id, expires)
        return role, platform_id


Cache = TypeVar("Cache", bound=dict[Any, Any])


def _bounded(cache: Cache) -> Cache:
    """The cache, emptied first when full (simple, and entries are cheap to rebuild)."""
    if len(cache) >= Authenticator.MAX_ENTRIES:
        cache.clear()
    return cache
