"""Test images made with Pillow, and uploads through a real GraphQL multipart request (aiohttp's FormData)."""

import io
import json
import random

import aiohttp
from PIL import Image, ImageDraw

from tests.support.gql import gid

UPLOAD = """
mutation Upload($input: UploadImageInput!) {
  uploadImage(input: $input) {
    image { id url thumbnailUrl urlExpiresAt mimeType width height sizeBytes createdAt }
    userErrors { code message field }
  }
}"""
IMAGE_FIELDS = "image { id url thumbnailUrl urlExpiresAt mimeType width height sizeBytes } caption"
GPS = 0x8825  # the EXIF GPS IFD tag
ORIENTATION = 0x0112


def picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A picture whose left half is red and right half blue (so orientation can be told)."""
    image = Image.new(mode, (width, height), "red")
    ImageDraw.Draw(image).rectangle((width // 2, 0, width, height), fill="blue")
    return image


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def jpeg_with_gps(width: int = 600, height: int = 400, orientation: int = 1) -> bytes:
    """A JPEG carrying GPS EXIF tags (a location), a camera model, a comment and an orientation."""
    image = picture(width, height)
    exif = image.getexif()
    exif[ORIENTATION] = orientation
    exif[0x0110] = "SecretCam 3000"  # Model
    exif.get_ifd(GPS).update({1: "N", 2: (52.0, 22.0, 12.0), 3: "E", 4: (4.0, 53.0, 28.0)})
    return encode(image, "JPEG", exif=exif.tobytes(), comment=b"shot at home")


def animated_gif(frames: int = 3, size: tuple[int, int] = (400, 200)) -> bytes:
    images = [Image.new("RGB", size, color) for color in ("red", "green", "blue")[:frames]]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=120, loop=0, comment=b"hi")


def noise_jpeg(target_bytes: int) -> bytes:
    """A JPEG of noise of about `target_bytes`, at most (noise hardly compresses: one try tells the rate)."""
    rng = random.Random(7)

    def of_side(side: int) -> bytes:
        return encode(Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)), "JPEG", quality=95)

    trial = of_side(500)
    return of_side(int(500 * (0.97 * target_bytes / len(trial)) ** 0.5))


def multipart(data: bytes, query: str = UPLOAD, filename: str = "photo.jpg", content_type: str = "image/jpeg"):
    """A GraphQL multipart request body: `operations`, `map`, then the file."""
    form = aiohttp.FormData()
    form.add_field("operations", json.dumps({"query": query, "variables": {"input": {"file": None}}}))
    form.add_field("map", json.dumps({"0": ["variables.input.file"]}))
    form.add_field("0", data, filename=filename, content_type=content_type)
    return form


async def post_upload(http, token: str, data: bytes, **options) -> tuple[int, dict]:
    """(status, body) of an upload posted with `http` (aiohttp's test client, or a ClientSession and a URL)."""
    url = options.pop("url", "/graphql")
    response = await http.post(url, data=multipart(data, **options), headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def upload(api, data: bytes, *, as_: str, **options) -> dict:
    """The uploadImage payload."""
    status, body = await post_upload(api.http, api.token(as_), data, **options)
    assert status == 200 and "errors" not in body, body
    return body["data"]["uploadImage"]


async def upload_ok(api, data: bytes, *, as_: str, **options) -> dict:
    payload = await upload(api, data, as_=as_, **options)
    assert payload["userErrors"] == [] and payload["image"], payload
    return payload["image"]


def image_to_creator(creator: int, image_id: str, key: str, caption: str | None = None) -> dict:
    content = {"image": {"imageId": image_id, "caption": caption}}
    return {"input": {"creatorId": gid("Creator", creator), "clientMessageId": key, "content": content}}


def image_to_shop(shop: int, image_id: str, key: str, caption: str | None = None) -> dict:
    content = {"image": {"imageId": image_id, "caption": caption}}
    return {"input": {"shopId": gid("Shop", shop), "clientMessageId": key, "content": content}}


SEND_IMAGE = (
    """
mutation Send($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message { id content { __typename ... on ImageContent { %s } } }
    conversation {
      id messagesRemainingBeforeReply lastMessage { id content { __typename ... on ImageContent { caption } } }
    }
    userErrors { code message field }
  }
}"""
    % IMAGE_FIELDS
)
