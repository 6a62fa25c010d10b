"""Bearer tokens: HS256 JWTs whose subject is `shop:<platformId>` or `creator:<platformId>`."""

import secrets
import time
from pathlib import Path

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models import Creator, Shop
from services.config import Settings
from services.errors import Unauthenticated
from services.viewer import CREATOR, SELLER, Viewer

ALGORITHM = "HS256"
SUBJECT_KINDS = {"shop": SELLER, "creator": CREATOR}


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


def issue_token(secret: str, subject: str, ttl_seconds: int = 86_400) -> str:
    """A signed token for `subject`, valid for `ttl_seconds`."""
    kind, _, platform_id = subject.partition(":")
    if kind not in SUBJECT_KINDS or not platform_id:
        raise ValueError("subject must be shop:<platformId> or creator:<platformId>")
    now = int(time.time())
    return jwt.encode({"sub": subject, "iat": now, "exp": now + ttl_seconds}, secret, algorithm=ALGORITHM)


def bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send an Authorization: Bearer <token> header.")
    return token.strip()


def decode_subject(secret: str, token: str) -> tuple[str, str]:
    """(role, platform id) of a valid token."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The token has expired.") from None
    except jwt.PyJWTError:
        raise Unauthenticated("The token is invalid.") from None
    kind, _, platform_id = str(claims["sub"]).partition(":")
    if kind not in SUBJECT_KINDS or not platform_id:
        raise Unauthenticated("The token's subject is not a shop or a creator.")
    return SUBJECT_KINDS[kind], platform_id


async def authenticate(engine: AsyncEngine, secret: str, header: str | None) -> Viewer:
    """The viewer of an Authorization header, with the shop's current status."""
    role, platform_id = decode_subject(secret, bearer_token(header))
    async with engine.connect() as conn:
        if role == SELLER:
            row = (await conn.execute(
                select(Shop.id, Shop.status).where(Shop.platform_id == platform_id))).first()
            viewer = row and Viewer(SELLER, shop_id=row.id, shop_status=row.status)
        else:
            row = (await conn.execute(
                select(Creator.id).where(Creator.platform_id == platform_id))).first()
            viewer = row and Viewer(CREATOR, creator_id=row.id)
    if not viewer:
        raise Unauthenticated("The token's subject is not known.")
    return viewer
