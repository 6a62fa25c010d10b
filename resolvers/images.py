"""Images: an upload within the principal's hourly allowance, an image by its ID, the links of an image."""

from typing import Any

from strawberry import ID

from core.errors import BadUserInput, RuleViolation
from resolvers.context import Context
from resolvers.ids import encode_id
from resolvers.outcomes import attempt
from services import images


def image_global_id(pk: int) -> ID:
    return encode_id("Image", pk)


async def upload_image(ctx: Context, file: object) -> tuple[Any | None, list[RuleViolation]]:
    """The new image row, or the refusal: one token of the principal's upload bucket (INBOX_UPLOADS_PER_HOUR)."""
    if not isinstance(file, images.UploadedFile):
        # A JSON request's variables hold no file: uploads come as GraphQL multipart requests.
        raise BadUserInput("input.file must be a file of a GraphQL multipart request.")
    viewer = ctx.viewer
    return await attempt(ctx, lambda: images.upload_image(ctx.app, viewer, file), bucket="upload")


def links_of(ctx: Context, row: Any) -> images.Links:
    """Signed links to an image, on INBOX_PUBLIC_URL or else on the origin the request came to."""
    origin = ctx.settings.public_url
    if origin is None:
        request = ctx.request
        origin = f"{request.scheme}://{request.host}" if request is not None else ""
    return images.links(ctx.app.media_secret, origin, ctx.settings.media_url_ttl_seconds, row)
