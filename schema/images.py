"""Images: the `Image` type, `ImageContent` in a message, `uploadImage` over a GraphQL multipart request
(the only operation such a request may run, its file streamed to a temporary file), and the signed
`GET /media/...` links that serve the files.

Uploads take no cookie, only the bearer token of the Authorization header, which a browser never adds
by itself: a cross-site form posting a file carries no credential, so cross-site request forgery does
not apply (README, Configuration).
"""

import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import strawberry
from aiohttp import BodyPartReader, web
from cross_web import HTTPException
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.file_uploads import Upload
from strawberry.file_uploads.utils import replace_placeholders_with_files
from strawberry.types import Info

from core.text import GLOBAL_ID, MESSAGE_TEXT
from resolvers import images as images_resolvers
from resolvers.context import Context
from schema.inputs import text_field
from schema.payloads import Refusable, UserError, user_errors
from schema.relay import Node
from services import images
from services.runtime import Runtime

UPLOADS_KEY = web.RequestKey("uploads", list[Path])
CHUNK = 256 * 1024
ONLY_UPLOADS = "A multipart request may only run the uploadImage mutation, with one file."


@strawberry.type(
    description="""An image that a seller or a creator uploaded: JPEG, PNG, GIF or WebP, at most 10 MB and 8,192 pixels on a side.
Its metadata (EXIF, location) is removed on upload. Visible to the side that uploaded it and, once sent, to the
other party of every conversation it was sent in."""  # noqa: E501 - the contract's text, line for line
)
class Image(Node):
    id: strawberry.ID
    url: str = strawberry.field(
        description="A signed link that works without an Authorization header until urlExpiresAt."
    )
    thumbnail_url: str = strawberry.field(
        description="The image scaled down to fit 320 x 320 pixels (a signed link, like url)."
    )
    url_expires_at: datetime
    mime_type: str
    width: int
    height: int
    size_bytes: int
    created_at: datetime

    @classmethod
    def from_row(cls, ctx: Context, row: Any) -> "Image":
        links = images_resolvers.links_of(ctx, row)
        return cls(
            id=images_resolvers.image_global_id(row.id),
            url=links.url,
            thumbnail_url=links.thumbnail_url,
            url_expires_at=links.expires_at,
            mime_type=row.mime_type,
            width=row.width,
            height=row.height,
            size_bytes=row.size_bytes,
            created_at=row.created_at,
        )


@strawberry.type
class ImageContent:
    caption: str | None
    image_id: strawberry.Private[int]

    @strawberry.field
    async def image(self, info: Info[Context, None]) -> Image:
        # Whoever sees the message sees its image: no check beyond the message's own.
        return Image.from_row(info.context, await info.context.loaders.image_by_id.load(self.image_id))


@strawberry.input
class ImageMessageInput:
    image_id: strawberry.ID = text_field(GLOBAL_ID, "An image the sender's side uploaded with uploadImage.")
    caption: str | None = text_field(MESSAGE_TEXT, default=None)


@strawberry.input
class UploadImageInput:
    file: Upload


@strawberry.type
class UploadImagePayload(Refusable):
    image: Image | None = None
    user_errors: list[UserError]


@strawberry.type
class ImageMutation:
    @strawberry.mutation(
        description="Upload an image (a GraphQL multipart request) to send with sendMessage(content: {image: ...}) "
        "within 24 hours."
    )
    async def upload_image(self, info: Info[Context, None], input: UploadImageInput) -> UploadImagePayload:
        row, errors = await images_resolvers.upload_image(info.context, input.file)
        if row is None:
            return UploadImagePayload(user_errors=user_errors(errors))
        return UploadImagePayload(image=Image.from_row(info.context, row), user_errors=[])


# The multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec): `operations`,
# then `map`, then the file, in that order, so the operation is checked before any of the file is read.


async def read_upload_request(request: web.Request, max_field_bytes: int) -> dict[str, Any]:
    """The operation of a multipart request, its file streamed to a temporary file (removed with
    `discard_uploads` when the request ends) and put in its variables. Anything but one uploadImage
    mutation with one file is refused (400) before the file is read."""
    try:
        reader = await request.multipart()
        operations = orjson.loads(await _field(await reader.next(), "operations", max_field_bytes))
        _check_upload_operation(operations)
        files_map = orjson.loads(await _field(await reader.next(), "map", max_field_bytes))
        if type(files_map) is not dict or len(files_map) != 1:
            raise HTTPException(400, ONLY_UPLOADS)
        part = await reader.next()
        if not isinstance(part, BodyPartReader) or part.name is None or part.name not in files_map:
            raise HTTPException(400, "File(s) missing in form data")
        upload = await _stream_to_file(request, part)
        return replace_placeholders_with_files(operations, files_map, {part.name: upload})
    except (ValueError, KeyError, IndexError, TypeError, AssertionError):
        raise HTTPException(400, "Unable to parse the multipart body") from None


async def _field(part: object, name: str, limit: int) -> bytes:
    if not isinstance(part, BodyPartReader) or part.name != name:
        raise HTTPException(400, f"The multipart body must start with `operations`, then `map` (not {name}).")
    value = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        value += chunk
        if len(value) > limit:
            raise HTTPException(413, f"The {name} field is larger than {limit:,} bytes.")
    return bytes(value)


def _check_upload_operation(operations: object) -> None:
    """One operation, a mutation selecting `uploadImage` alone (multipart is for uploads, nothing else)."""
    query = operations.get("query") if type(operations) is dict else None
    if type(query) is not str:
        raise HTTPException(400, ONLY_UPLOADS)
    try:
        document = parse(query, max_tokens=2000)
    except GraphQLError:
        raise HTTPException(400, ONLY_UPLOADS) from None
    definitions = document.definitions
    if not (
        len(definitions) == 1
        and isinstance(operation := definitions[0], OperationDefinitionNode)
        and operation.operation is OperationType.MUTATION
        and len(operation.selection_set.selections) == 1
        and isinstance(field := operation.selection_set.selections[0], FieldNode)
        and field.name.value == "uploadImage"
    ):
        raise HTTPException(400, ONLY_UPLOADS)


async def _stream_to_file(request: web.Request, part: BodyPartReader) -> images.UploadedFile:
    """The part's bytes in a temporary file, chunk by chunk: never the whole file in memory. Past
    MAX_BYTES the rest is not read (aiohttp discards what the client still sends)."""
    handle = tempfile.NamedTemporaryFile(prefix="inbox-upload-", delete=False)  # noqa: SIM115 - closed below
    path = Path(handle.name)
    request.setdefault(UPLOADS_KEY, []).append(path)
    written, too_large = 0, False
    with handle:
        while chunk := await part.read_chunk(CHUNK):
            written += len(chunk)
            if written > images.MAX_BYTES:
                too_large = True
                break
            handle.write(chunk)
    return images.UploadedFile(path, too_large)


def discard_uploads(request: web.Request) -> None:
    for path in request.get(UPLOADS_KEY, ()):
        path.unlink(missing_ok=True)


# GET /media/<sha256>/<name>?expires=...&signature=...

NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def media_handler(rt: Runtime) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler of signed media links: 403 for a wrong or expired signature (checked first, so that
    nobody learns which objects exist), 404 for what is not stored (any more)."""

    async def serve(request: web.Request) -> web.StreamResponse:
        sha256, name = request.match_info["sha256"], request.match_info["name"]
        left = images.valid_signature(
            rt.media_secret,
            f"/media/{sha256}/{name}",
            request.query.get("expires", ""),
            request.query.get("signature", ""),
        )
        if left is None:
            return web.Response(status=403, text="This link is not valid, or it has expired.", headers=NOSNIFF)
        media = images.media_of(sha256, name)
        stored = await rt.storage.get(media.key) if media is not None else None
        if media is None or stored is None:
            return web.Response(status=404, text="No such image.", headers=NOSNIFF)
        headers = {
            **NOSNIFF,
            "Content-Type": media.mime_type,
            "Content-Disposition": f'inline; filename="{media.filename}"',
            "ETag": media.etag,
            # The browser may reuse it while the link is valid, never a shared cache.
            "Cache-Control": f"private, max-age={min(left, rt.settings.media_url_ttl_seconds)}",
        }
        if request.headers.get("If-None-Match") == media.etag:
            await stored.chunks.aclose()
            return web.Response(status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
        response = web.StreamResponse(headers=headers)
        response.content_length = stored.size
        await response.prepare(request)
        async for chunk in stored.chunks:
            await response.write(chunk)
        await response.write_eof()
        return response

    return serve
