"""Who is calling, and the one access rule every read goes through."""

from dataclasses import dataclass

SELLER = "SELLER"
CREATOR = "CREATOR"


@dataclass(frozen=True, slots=True)
class Viewer:
    """A seller of one shop, or a creator. `shop_status` is read per request."""

    role: str
    shop_id: int | None = None
    creator_id: int | None = None
    shop_status: str | None = None

    @property
    def is_seller(self) -> bool:
        return self.role == SELLER

    @property
    def side(self) -> str:
        """The viewer's side in `conversation_state`."""
        return self.role

    @property
    def owner_id(self) -> int:
        """The id that owns the viewer's side: the shop id or the creator id."""
        return self.shop_id if self.is_seller else self.creator_id

    @property
    def principal(self) -> str:
        """A stable key for the caller, also the sender key of its messages."""
        return f"shop:{self.shop_id}" if self.is_seller else f"creator:{self.creator_id}"

    @property
    def other_side(self) -> str:
        return CREATOR if self.is_seller else SELLER

    def owns(self, shop_id: int, creator_id: int) -> bool:
        """Whether a shop-creator pair's records belong to the viewer."""
        return shop_id == self.shop_id if self.is_seller else creator_id == self.creator_id
