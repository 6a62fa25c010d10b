"""Images: uploads checked by decoding them, stored once per content hash, served by signed links,
sent in messages, and removed when nobody sent them within a day.

An upload is decoded with Pillow (its name and Content-Type are not trusted), turned upright by its
EXIF orientation and written anew without any metadata, with a thumbnail fitting 320 x 320. The stored
file's sha256 names its object (core/storage.py) and the thumbnail's (`<sha256>.thumbnail`); a row per
upload says whose it is.
"""

import asyncio
import base64
import hashlib
import hmac
import logging
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import PIL.Image
from PIL import ImageOps, UnidentifiedImageError
from sqlalchemy import Row, and_, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import ErrorCode, RuleViolation, not_found
from core.storage import Storage
from core.viewer import Viewer
from models.database import GatedEngine, fetch
from models.tables import conversation_t, image_t, message_t
from models.types import utcnow
from services import transactions
from services.runtime import Runtime

MAX_BYTES = 10 * 1024 * 1024
MAX_SIDE = 8192
MAX_PIXELS = 40_000_000
# An animation is decoded frame by frame: all its frames together may hold this many pixels.
MAX_ANIMATION_PIXELS = 10 * MAX_PIXELS
THUMBNAIL_BOX = (320, 320)
UNSENT_LIFETIME = timedelta(hours=24)
CLEANUP_BATCH = 500
JPEG_QUALITY = 90
# Pillow format -> (MIME type, file extension, the thumbnail's Pillow format). A GIF's thumbnail is
# its first frame, as a PNG.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg", "JPEG"),
    "PNG": ("image/png", "png", "PNG"),
    "GIF": ("image/gif", "gif", "PNG"),
    "WEBP": ("image/webp", "webp", "WEBP"),
}
EXTENSIONS = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
# What a re-encoded file keeps of the decoder's `info`: how to draw it, never who, where or with what.
_KEPT_INFO = {"transparency", "duration", "loop", "background", "disposal"}
THUMBNAIL = "thumbnail"
PIL.Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb check, at our limit (ours answers first)
log = logging.getLogger("inbox.images")


@dataclass
class UploadedFile:
    """A file part of a multipart request, streamed to `path` (schema/images.py). `too_large`: the
    part went on past MAX_BYTES, and only its first MAX_BYTES + 1 bytes were kept."""

    path: Path
    too_large: bool = False


@dataclass(frozen=True)
class Processed:
    sha256: str
    mime_type: str
    width: int
    height: int
    size_bytes: int
    image: Path
    thumbnail: Path


def unsupported(message: str = "The file is not a JPEG, PNG, GIF or WebP image that can be decoded.") -> RuleViolation:
    return RuleViolation(ErrorCode.UNSUPPORTED_FILE, message, ["input", "file"])


def too_large() -> RuleViolation:
    return RuleViolation(
        ErrorCode.FILE_TOO_LARGE, f"An image may have at most {MAX_BYTES:,} bytes (10 MiB).", ["input", "file"]
    )


def process(source: Path, workdir: Path) -> Processed:
    """Decode, check, orient and re-encode an upload without metadata, and make its thumbnail (in a thread)."""
    if source.stat().st_size > MAX_BYTES:
        raise too_large()
    try:
        with warnings.catch_warnings():
            # Pillow warns past MAX_IMAGE_PIXELS; `_process` refuses such a picture itself, before decoding.
            warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
            with PIL.Image.open(source) as opened:
                return _process(opened, workdir)
    except RuleViolation:
        raise
    except (UnidentifiedImageError, PIL.Image.DecompressionBombError, OSError, ValueError, EOFError, SyntaxError):
        raise unsupported() from None


def _process(opened: PIL.Image.Image, workdir: Path) -> Processed:
    if opened.format not in FORMATS:
        raise unsupported()
    width, height = opened.size
    frames = getattr(opened, "n_frames", 1)
    # Checked from the header, before anything is decoded: a small file may claim a huge picture.
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise unsupported(f"An image may have at most {MAX_SIDE:,} pixels a side and {MAX_PIXELS:,} in all.")
    if frames * width * height > MAX_ANIMATION_PIXELS:
        raise unsupported(f"An animation may have at most {MAX_ANIMATION_PIXELS:,} pixels in all its frames.")
    mime_type, extension, thumbnail_format = FORMATS[opened.format]
    image_path, thumbnail_path = workdir / f"image.{extension}", workdir / "thumbnail"
    if frames > 1:
        _save_animation(opened, image_path)
        opened.seek(0)
        upright = opened
    else:
        opened.load()  # a truncated file fails here
        # In place: the picture is not copied (a copy of a 40-megapixel picture is 120 MB more).
        upright = ImageOps.exif_transpose(opened, in_place=True) or opened
        _save_still(upright, opened.format, image_path)
    _save_thumbnail(upright, thumbnail_format, thumbnail_path)
    digest = hashlib.sha256()
    with image_path.open("rb") as stored:
        while chunk := stored.read(1 << 20):
            digest.update(chunk)
    return Processed(
        digest.hexdigest(),
        mime_type,
        upright.width,
        upright.height,
        image_path.stat().st_size,
        image_path,
        thumbnail_path,
    )


def _kept_info(image: PIL.Image.Image) -> dict[str | tuple[int, int], Any]:
    return {key: value for key, value in image.info.items() if key in _KEPT_INFO}


def _save_still(image: PIL.Image.Image, image_format: str, path: Path) -> None:
    """Written anew: Pillow writes no EXIF, XMP, ICC profile, comment or text chunk it is not given,
    and `info` (which some writers read) is cleared of them first."""
    image.info = _kept_info(image)
    if image_format == "JPEG":
        image.save(path, "JPEG", quality=JPEG_QUALITY)
    elif image_format == "WEBP":
        image.save(path, "WEBP", quality=JPEG_QUALITY)
    else:
        image.save(path, image_format)


def _save_animation(image: PIL.Image.Image, path: Path) -> None:
    """Every frame, with its timing, and nothing else (a GIF's comments and application extensions go)."""
    kept = _kept_info(image)
    image.info = dict(kept)
    image.save(path, image.format, save_all=True, **{str(key): value for key, value in kept.items()})


def _save_thumbnail(image: PIL.Image.Image, image_format: str, path: Path) -> None:
    """Scaled to fit THUMBNAIL_BOX, aspect kept, never enlarged; resized before anything else so that
    no full-size copy is made (except of a palette or CMYK picture, which is converted first)."""
    mode = "RGB" if image_format == "JPEG" else "RGBA"
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert(mode)
    scale = min(THUMBNAIL_BOX[0] / image.width, THUMBNAIL_BOX[1] / image.height, 1.0)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    thumbnail = image.resize(size, PIL.Image.Resampling.LANCZOS, reducing_gap=3.0).convert(mode)
    thumbnail.info = {}
    thumbnail.save(path, image_format, **({"quality": JPEG_QUALITY} if image_format != "PNG" else {}))


def thumbnail_extension(mime_type: str) -> str:
    return {"image/jpeg": "jpg", "image/webp": "webp"}.get(mime_type, "png")


def _lock_key(sha256: str) -> int:
    """A signed 64-bit advisory lock key of a hash."""
    return int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)


async def lock_object(conn: AsyncConnection, sha256: str) -> None:
    """Serialise, until the transaction ends, every upload and clean-up touching one stored object.

    Why: an upload of bytes stored already writes no object, and a clean-up deletes an object once no
    row names it; unserialised, a clean-up could check "no row", an upload insert its row and find the
    object, and the clean-up then delete it under the new row. Under this lock each side's check sees
    what the other committed. PostgreSQL: a transaction-scoped advisory lock on the hash. SQLite: each
    side's first statement is a write (the upload inserts its row, the clean-up deletes rows), which
    takes the database's one write lock for the rest of the transaction.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(sha256)})


async def upload_image(rt: Runtime, viewer: Viewer, upload: UploadedFile) -> Row[Any]:
    """Check, store and record an upload; the new `image` row."""
    if upload.too_large:
        raise too_large()
    with tempfile.TemporaryDirectory(prefix="inbox-image-") as workdir:
        # On the decoder thread, one at a time (services/runtime.py): RSS stays bounded.
        processed = await asyncio.get_running_loop().run_in_executor(rt.decoder, process, upload.path, Path(workdir))
        return await transactions.write(rt, lambda conn: _store(conn, rt.storage, viewer, processed))


async def _store(
    conn: AsyncConnection, storage: Storage, viewer: Viewer, processed: Processed
) -> tuple[Row[Any], list]:
    await lock_object(conn, processed.sha256)
    row = (
        await conn.execute(
            insert(image_t).returning(*image_t.c),
            {
                "owner_side": viewer.side,
                "owner_id": viewer.owner_id,
                "sha256": processed.sha256,
                "mime_type": processed.mime_type,
                "size_bytes": processed.size_bytes,
                "width": processed.width,
                "height": processed.height,
                "created_at": utcnow(),
            },
        )
    ).one()
    # The same bytes are stored once: an object that exists holds them already (under the lock, a
    # clean-up cannot remove it before this row commits).
    for key, path in ((processed.sha256, processed.image), (thumbnail_key(processed.sha256), processed.thumbnail)):
        if not await storage.exists(key):
            await storage.put(key, path)
    return row, []


def thumbnail_key(sha256: str) -> str:
    return f"{sha256}.{THUMBNAIL}"


async def claim_for_send(conn: AsyncConnection, viewer: Viewer, image_id: int) -> None:
    """The image goes into a message now: it must be the viewer's side's (else NOT_FOUND, as if it did
    not exist), and it is marked sent. The UPDATE is the check: it locks the row (PostgreSQL) or the
    database (SQLite), so a clean-up cannot delete it between this check and the message's commit,
    and a clean-up that deleted it first leaves nothing to update."""
    claimed = (
        await conn.execute(
            update(image_t)
            .where(image_t.c.id == image_id, image_t.c.owner_side == viewer.side, image_t.c.owner_id == viewer.owner_id)
            .values(sent_at=func.coalesce(image_t.c.sent_at, utcnow()))
            .returning(image_t.c.id)
        )
    ).first()
    if claimed is None:
        raise not_found("The image", ["input", "content", "image", "imageId"])


async def visible_image(db: GatedEngine, viewer: Viewer, image_id: int) -> Any | None:
    """The image row, if the viewer's side uploaded it or it was sent in one of the viewer's conversations."""
    c = conversation_t.c
    party = c.shop_id == viewer.shop_id if viewer.is_seller else c.creator_id == viewer.creator_id
    sent_to_viewer = exists(
        select(message_t.c.id)
        .join(conversation_t, c.id == message_t.c.conversation_id)
        .where(message_t.c.image_id == image_t.c.id, party)
    )
    own = and_(image_t.c.owner_side == viewer.side, image_t.c.owner_id == viewer.owner_id)
    rows = await fetch(db, select(image_t).where(image_t.c.id == image_id, or_(own, sent_to_viewer)))
    return rows[0] if rows else None


async def remove_unsent(rt: Runtime, now: datetime | None = None) -> int:
    """Delete the images nobody sent within UNSENT_LIFETIME, and the objects no other row names; the
    number of images deleted. Safe to run in several processes at once (`lock_object`)."""
    cutoff = (now or utcnow()) - UNSENT_LIFETIME
    removed = 0
    while True:
        hashes = await _unsent_hashes(rt.reader, cutoff)
        for sha256 in hashes:
            removed += await transactions.write(rt, partial(_remove, storage=rt.storage, sha256=sha256, cutoff=cutoff))
        if len(hashes) < CLEANUP_BATCH:
            return removed


async def _unsent_hashes(db: GatedEngine, cutoff: datetime) -> Sequence[str]:
    unsent = (
        select(image_t.c.sha256)
        .where(image_t.c.sent_at.is_(None), image_t.c.created_at < cutoff)
        .group_by(image_t.c.sha256)
        .limit(CLEANUP_BATCH)
    )
    return [row.sha256 for row in await fetch(db, unsent)]


async def _remove(conn: AsyncConnection, storage: Storage, sha256: str, cutoff: datetime) -> tuple[int, list]:
    await lock_object(conn, sha256)
    deleted = await conn.execute(
        delete(image_t).where(image_t.c.sha256 == sha256, image_t.c.sent_at.is_(None), image_t.c.created_at < cutoff)
    )
    remaining = (await conn.execute(select(func.count()).where(image_t.c.sha256 == sha256))).scalar_one()
    if not remaining:
        await storage.delete(sha256)
        await storage.delete(thumbnail_key(sha256))
    return deleted.rowcount or 0, []


async def clean_up_periodically(rt: Runtime, every_seconds: float) -> None:
    """`remove_unsent` every so often, for as long as the app runs (a task of server.py's lifetime)."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await remove_unsent(rt)
        except Exception:  # noqa: BLE001 - logged; the next round tries again
            log.exception("image clean-up failed")


# Signed links: /media/<sha256>/<image|thumbnail>.<ext>?expires=<unix time>&signature=<HMAC>.


@dataclass(frozen=True)
class Links:
    """The signed links of an image, valid until `expires_at`."""

    url: str
    thumbnail_url: str
    expires_at: datetime


def media_path(sha256: str, variant: str, extension: str) -> str:
    return f"/media/{sha256}/{variant}.{extension}"


def signature(secret: str, path: str, expires: int) -> str:
    mac = hmac.new(secret.encode(), f"{path}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sign(secret: str, path: str, expires: int) -> str:
    return f"{path}?expires={expires}&signature={signature(secret, path, expires)}"


def links(secret: str, origin: str, ttl_seconds: int, row: Any) -> Links:
    """Links to an image row and its thumbnail, valid for `ttl_seconds` from now."""
    expires = int(time.time()) + ttl_seconds
    extension = next(ext for ext, mime in EXTENSIONS.items() if mime == row.mime_type)
    image = media_path(row.sha256, "image", extension)
    thumbnail = media_path(row.sha256, THUMBNAIL, thumbnail_extension(row.mime_type))
    return Links(
        origin + sign(secret, image, expires),
        origin + sign(secret, thumbnail, expires),
        datetime.fromtimestamp(expires, tz=utcnow().tzinfo),
    )


def valid_signature(secret: str, path: str, expires: str, given: str) -> int | None:
    """The seconds a link has left, if its signature is right and it has not expired; else None."""
    if not expires.isdigit():
        return None
    left = int(expires) - int(time.time())
    if left <= 0 or not hmac.compare_digest(signature(secret, path, int(expires)), given):
        return None
    return left


@dataclass(frozen=True)
class Media:
    """What a signed link names: the object's key, its MIME type, the file name to show, its ETag."""

    key: str
    mime_type: str
    filename: str
    etag: str


def media_of(sha256: str, name: str) -> Media | None:
    """What `/media/<sha256>/<name>` names (the path was signed, so it is one of ours), or None."""
    variant, _, extension = name.partition(".")
    mime_type = EXTENSIONS.get(extension)
    if mime_type is None or variant not in ("image", THUMBNAIL) or len(sha256) != 64:
        return None
    key = sha256 if variant == "image" else thumbnail_key(sha256)
    return Media(key, mime_type, name, f'"{key}"')
