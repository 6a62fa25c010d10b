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
        owner = self.shop_id if self.is_seller else self.creator_id
        assert owner is not None, "services.auth builds every viewer with its side's id"
        return owner

    @property
    def own_shop_id(self) -> int:
        """A seller's shop id, in code that runs for sellers only."""
        assert self.shop_id is not None, "only a seller has a shop"
        return self.shop_id

    @property
    def own_creator_id(self) -> int:
        """A creator's id, in code that runs for creators only."""
        assert self.creator_id is not None, "only a creator has a creator id"
        return self.creator_id

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
