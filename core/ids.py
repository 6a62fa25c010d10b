"""Global IDs as clients see them (`Type:pk`, unpadded URL-safe base64), for the layers that write them
outside the schema too (webhook payloads)."""

import binascii

_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def encode_text(text: str) -> str:
    """Unpadded URL-safe base64 of `text`."""
    # base64.urlsafe_b64encode, minus its Python-level steps: this runs for every id of every page.
    return binascii.b2a_base64(text.encode(), newline=False).translate(_URL_SAFE).rstrip(b"=").decode()


def global_id(type_name: str, pk: int) -> str:
    """The global ID of row `pk` of `type_name`."""
    return encode_text(f"{type_name}:{pk}")
