"""Reproducible demo data: shops, creators and realistic conversations between them.

`seed_demo(engine, scale)` fills an empty, migrated database. Scale 1 gives 7 shops,
2,000 creators, 1,500 conversations and about 15,000 messages; everything grows linearly
with the scale up to MAX_SCALE (scale 70 passes 1 million messages, 100 gives about
1.5 million, 150 about 2.3 million on 225,000 conversations). Shop "s1" ("Glow Lab")
holds min(5,000, half of all) conversations, and creator "c1" talks to five shops, so
every inbox folder has content on both sides.

Times are relative to now. The same seed gives the same data, except that openings
beyond a shop's outreach allowance for the current week move a week back, which depends
on the weekday.

Rows are generated conversation by conversation and written in chunks with explicit ids
(the database is empty), so memory stays flat; PostgreSQL gets them by COPY.
"""

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

import asyncpg
from sqlalchemy import Table, exists, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from commands.platform_import import apply_import, parse_import_data
from core.config import DEFAULT_TIERS
from core.text import fold
from models import metadata
from models.tables import (
    block_t,
    collaboration_product_t,
    collaboration_t,
    conversation_t,
    creator_t,
    message_search_t,
    message_t,
    outreach_t,
    product_t,
    sample_t,
    shop_t,
    state_t,
)
from models.types import utcnow
from services.blocks import NOTICES as BLOCK_NOTICES
from services.outreach import week_start, weekly_limit

MAX_SCALE = 150  # 225,000 conversations, ~2.3 million messages
CATEGORIES = (
    "Beauty",
    "Fashion",
    "Home",
    "Food",
    "Fitness",
    "Tech",
    "Pets",
    "Baby",
    "Outdoors",
    "Gaming",
    "Books",
    "Travel",
)
SELLER_ENTRANCES = ("CREATOR_MESSAGES", "FIND_CREATORS", "TARGETED_PLAN", "BULK_MESSAGE")
PRE_REPLY_LIMIT = 5
HISTORY = timedelta(days=90)
FLUSH_MESSAGES = 20_000  # buffered messages per write: bounds memory at any scale

_ENTRANCES = SELLER_ENTRANCES + ("CREATOR_INITIATED", "SAMPLE_REQUEST")
_ENTRANCE_WEIGHTS = (25, 25, 12, 10, 18, 10)
# One group of shops per scale unit: (GMV range, conversation weight, status).
_SHOP_TIERS = (
    ((12_000, 95_000), 6, "ACTIVE"),  # s1, "Glow Lab"
    ((120, 950), 1, "ACTIVE"),
    ((1_500, 9_500), 3, "ACTIVE"),
    ((12_000, 95_000), 6, "ACTIVE"),
    ((120_000, 900_000), 12, "ACTIVE"),
    ((150_000, 2_500_000), 12, "ACTIVE"),
    ((1_500, 9_500), 2, "SUSPENDED"),
)
# What creator c1 sees of its first conversations: (last speaker, starred, archived, unread).
_C1_SCRIPT = (
    ("SELLER", False, False, True),
    ("SELLER", True, False, False),
    ("CREATOR", False, True, False),
    ("CREATOR", True, False, False),
    ("SELLER", False, False, True),
)

TABLES = {
    table.name: table
    for table in (
        collaboration_t,
        collaboration_product_t,
        conversation_t,
        sample_t,
        message_t,
        message_search_t,
        state_t,
        block_t,
        outreach_t,
    )
}  # in foreign-key order
_SERIAL_TABLES = ("target_collaboration", "conversation", "sample_request", "message")


@dataclass
class DemoSummary:
    """Rows written, per table."""

    shop: int = 0
    creator: int = 0
    product: int = 0
    target_collaboration: int = 0
    collaboration_product: int = 0
    conversation: int = 0
    conversation_state: int = 0
    message: int = 0
    message_search: int = 0  # the text messages' search rows
    sample_request: int = 0
    block: int = 0
    outreach_unit: int = 0


class DatabaseNotEmpty(ValueError):
    """Demo data goes only into an empty database."""


# --- texts -------------------------------------------------------------------------------

_FIRST_NAMES = (
    "Mia",
    "Emma",
    "Olivia",
    "Ava",
    "Sophia",
    "Isabella",
    "Chloe",
    "Zoe",
    "Lily",
    "Grace",
    "Nora",
    "Hannah",
    "Aria",
    "Layla",
    "Ella",
    "Maya",
    "Leah",
    "Ruby",
    "Sofia",
    "Priya",
    "Aisha",
    "Yuna",
    "Camila",
    "Valentina",
    "Jade",
    "Noah",
    "Liam",
    "Ethan",
    "Lucas",
    "Mason",
    "Leo",
    "Jayden",
    "Mateo",
    "Caleb",
    "Owen",
    "Ryan",
    "Adrian",
    "Marcus",
    "Kai",
    "Theo",
    "Andre",
    "Diego",
    "Omar",
    "Ravi",
    "Kenji",
    "Jordan",
    "Taylor",
    "Riley",
    "Quinn",
    "Sam",
)
_LAST_NAMES = (
    "Smith",
    "Johnson",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Moore",
    "Jackson",
    "Lee",
    "Nguyen",
    "Kim",
    "Patel",
    "Chen",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Carter",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Evans",
    "Cruz",
    "Reyes",
    "Morgan",
)
_HANDLE_WORDS = {
    "Beauty": "glow",
    "Fashion": "style",
    "Home": "home",
    "Food": "eats",
    "Fitness": "fit",
    "Tech": "tech",
    "Pets": "pets",
    "Baby": "mama",
    "Outdoors": "wild",
    "Gaming": "plays",
    "Books": "reads",
    "Travel": "travels",
}
_SHOP_ADJECTIVES = (
    "Urban",
    "Pure",
    "Bright",
    "Wild",
    "Lucky",
    "Golden",
    "Cozy",
    "Bold",
    "Fresh",
    "Little",
    "Happy",
    "Silver",
    "Green",
    "Blue",
    "Nova",
    "Prime",
    "Sunny",
    "True",
    "Modern",
    "Kind",
    "Velvet",
    "Maple",
    "Coastal",
    "North",
)
_SHOP_NOUNS = {
    "Beauty": ("Glow", "Bloom", "Skin"),
    "Fashion": ("Thread", "Closet", "Wear"),
    "Home": ("Nest", "Haven", "Living"),
    "Food": ("Pantry", "Kitchen", "Bites"),
    "Fitness": ("Motion", "Athletics", "Strength"),
    "Tech": ("Gadgets", "Circuit", "Labs"),
    "Pets": ("Paws", "Tails", "Pet Co."),
    "Baby": ("Cradle", "Littles", "Nursery"),
    "Outdoors": ("Trail", "Summit", "Camp"),
    "Gaming": ("Arcade", "Pixel", "Gear"),
    "Books": ("Pages", "Press", "Library"),
    "Travel": ("Voyage", "Nomad", "Luggage"),
}
_PRODUCTS = {
    "Beauty": (
        "Vitamin C Serum",
        "Hydrating Lip Oil",
        "Matte Setting Spray",
        "Glow Highlighter",
        "Retinol Night Cream",
        "SPF 50 Sunscreen",
        "Brow Gel",
        "Clay Face Mask",
    ),
    "Fashion": (
        "Oversized Denim Jacket",
        "Linen Wide-Leg Pants",
        "Ribbed Tank Top",
        "Satin Slip Dress",
        "Chunky Sneakers",
        "Gold Hoop Earrings",
        "Crossbody Bag",
        "Cable Knit Sweater",
    ),
    "Home": (
        "Scented Soy Candle",
        "Linen Duvet Cover",
        "Ceramic Vase",
        "LED Sunset Lamp",
        "Bamboo Organizer",
        "Throw Blanket",
        "Aroma Diffuser",
        "Wall Mirror",
    ),
    "Food": (
        "Hot Honey",
        "Matcha Powder",
        "Protein Granola",
        "Chili Crisp",
        "Cold Brew Kit",
        "Sea Salt Caramels",
        "Truffle Oil",
        "Spice Sampler",
    ),
    "Fitness": (
        "Resistance Bands",
        "Yoga Mat",
        "Whey Protein",
        "Smart Jump Rope",
        "Foam Roller",
        "Seamless Leggings",
        "Shaker Bottle",
        "Adjustable Dumbbells",
    ),
    "Tech": (
        "Wireless Earbuds",
        "Phone Tripod",
        "Ring Light",
        "Magnetic Charger",
        "Mini Projector",
        "Mechanical Keyboard",
        "Power Bank",
        "Smart Plug",
    ),
    "Pets": (
        "Dog Harness",
        "Cat Tree",
        "Lick Mat",
        "Pet Hair Remover",
        "Orthopedic Dog Bed",
        "Interactive Cat Toy",
        "Salmon Treats",
        "Grooming Glove",
    ),
    "Baby": (
        "Muslin Swaddle",
        "Silicone Bib Set",
        "Baby Carrier",
        "Teething Toy",
        "Night Light",
        "Diaper Caddy",
        "Play Mat",
        "Sippy Cup",
    ),
    "Outdoors": (
        "Camping Hammock",
        "Insulated Bottle",
        "Headlamp",
        "Packable Rain Jacket",
        "Trekking Poles",
        "Solar Lantern",
        "Dry Bag",
        "Camp Stove",
    ),
    "Gaming": (
        "RGB Mouse Pad",
        "Gaming Headset",
        "Controller Grip",
        "Stream Deck Mini",
        "Cable Organizer",
        "Desk Mat",
        "Capture Card",
        "Gaming Chair Cushion",
    ),
    "Books": (
        "Reading Journal",
        "Book Light",
        "Bookmark Set",
        "Annotation Kit",
        "Book Sleeve",
        "Mystery Box",
        "Poetry Collection",
        "Cozy Romance Bundle",
    ),
    "Travel": (
        "Packing Cubes",
        "Neck Pillow",
        "Universal Adapter",
        "Toiletry Bag",
        "Luggage Tag Set",
        "Passport Holder",
        "Carry-On Backpack",
        "Compression Socks",
    ),
}
_PRODUCT_VARIANTS = ("", "", "", " - Travel Size", " - Bundle of 2", " - Limited Edition", " (New)")
_COLLABORATION_NAMES = (
    "Spring Launch",
    "Summer Bestsellers",
    "Back to School",
    "Holiday Gift Guide",
    "New Arrivals Boost",
    "Creator Favorites",
    "Flash Sale Push",
    "Evergreen Picks",
)

_SELLER_OPENERS = (
    "Hi {name}! We're {shop} and we love your {category} content. Would you be open to a collab?",
    "Hey {name} 👋 I'm reaching out from {shop}. Our {product} would be a great fit for your audience.",
    "Hello {name}, big fan of your videos! We'd love to send you our {product} to try.",
    "Hi {name}, {shop} here. We're looking for {category} creators for our next campaign - interested?",
    "Hi {name}! Our {product} is trending right now and we offer {rate}% commission to creators like you.",
    "Hey {name}, your last video was so good! Could we talk about a paid partnership?",
)
_SELLER_FOLLOW_UPS = (
    "Just following up on my last message - let me know if you'd like a free sample!",
    "Hi again {name}, did you get a chance to look at our offer?",
    "Quick reminder: our {rate}% commission offer is open until the end of the month.",
    "No pressure at all, but we'd really love to work with you.",
    "Hi {name}, bumping this in case it got lost in your inbox.",
)
_SELLER_REPLIES = (
    "Great to hear from you! What are your rates for a 30-second video?",
    "We can ship the sample within 2-3 business days. Where should we send it?",
    "The {product} retails at ${price}. You'd earn {rate}% on every sale.",
    "Sounds good! I've added you to our targeted plan.",
    "Could you post within two weeks of receiving the sample?",
    "Thanks {name}! Looking forward to your video.",
    "Do you have a media kit you could share?",
    "We usually offer {rate}% commission plus a free sample.",
    "Any questions about the {product}, just ask!",
    "Love the video! Sales picked up right after you posted.",
    "We ship from California, so it usually arrives in 3-5 days.",
    "Yes, it comes in three colors - I'll send you the one you like.",
    "We can do a flat fee of ${fee} plus {rate}% commission. Does that work?",
    "Here's a discount code for your followers: {code}",
)
_CREATOR_FIRST_REPLIES = (
    "Hi! Thanks for reaching out. I'd love to hear more.",
    "Hey {shop}! Sounds interesting, what's the commission?",
    "Hi there, thanks! Can you tell me more about the {product}?",
    "Hello! I'm open to collabs, what do you have in mind?",
    "Omg I actually already use your stuff! Let's do it.",
)
_CREATOR_OPENERS = (
    "Hi {shop}! I love your {product} and would like to feature it in my next video.",
    "Hey! I'm a {category} creator with {followers} followers - are you open to collabs?",
    "Hi, is the {product} available for affiliate creators?",
    "Hello {shop} team, my audience keeps asking about the {product}. Can we work together?",
)
_CREATOR_REPLIES = (
    "My rate for a dedicated video is ${fee}, or I can do commission only.",
    "How long does shipping usually take?",
    "Does the {product} come in other colors or sizes?",
    "I just posted the video! Let me know what you think.",
    "Got the sample today, it's amazing!",
    "Could you do {rate2}% instead? My audience converts really well.",
    "Sure, the shipping address is in my profile.",
    "Thanks! I'll film this weekend.",
    "Is there a deadline for the post?",
    "Do you ship to Canada?",
    "Perfect, count me in!",
    "Can I get a discount code for my followers?",
    "The video is getting great engagement so far!",
    "Sorry for the late reply, it's been a busy week.",
)
_EMOJI = ("", "", "", "", " 😊", " 🙌", " ✨", " 💕", " 🔥")
_SAMPLE_NOTES = (
    None,
    None,
    "Would love to feature this in my next video!",
    "Could I get this in a neutral shade?",
    "Planning a haul video next week.",
)
_REJECT_REASONS = (
    None,
    "Out of stock at the moment, sorry!",
    "We're focusing on other categories this month.",
    "This product isn't part of our sample program.",
)


# --- platform data -----------------------------------------------------------------------


def _money(rng: random.Random, low: float, high: float) -> str:
    return f"{rng.uniform(low, high):.2f}"


def _shop_name(rng: random.Random, category: str, taken: set[str]) -> str:
    """A brand-like name, unique among `taken`."""
    name = f"{rng.choice(_SHOP_ADJECTIVES)} {rng.choice(_SHOP_NOUNS[category])}"
    while name in taken:
        name += rng.choice((" Co.", " Studio", " Shop", " Goods", " Collective", " Store"))
    taken.add(name)
    return name


def _shop(rng: random.Random, n: int, category: str, taken: set[str], first_product: int) -> dict:
    """Shop number `n` (0-based) as an import record, its tier taken from `_SHOP_TIERS`."""
    (low, high), _, status = _SHOP_TIERS[n % len(_SHOP_TIERS)]
    titles = rng.sample(_PRODUCTS[category], rng.randint(7, 8))
    products = [
        {
            "platformId": f"p{number}",
            "title": title + rng.choice(_PRODUCT_VARIANTS),
            "price": _money(rng, 6, 90),
            "currency": "USD",
            "imageUrl": f"https://cdn.example.com/products/p{number}.jpg",
        }
        for number, title in enumerate(titles, first_product)
    ]
    return {
        "platformId": f"s{n + 1}",
        "name": "Glow Lab" if n == 0 else _shop_name(rng, category, taken),
        "status": status,
        "affiliateGmv30d": _money(rng, low, high),
        "products": products,
    }


def _creator(rng: random.Random, n: int, taken: set[str]) -> dict:
    """Creator number `n` as an import record: a unique handle, log-normal reach and sales."""
    first, last, category = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES), rng.choice(CATEGORIES)
    handle = rng.choice(
        (
            f"{first}.{last}",
            f"{first}{last}{rng.randint(1, 99)}",
            f"{first}_{_HANDLE_WORDS[category]}",
            f"its{first}{last[0]}",
        )
    ).lower()
    while handle in taken:
        handle += str(rng.randint(0, 9))
    taken.add(handle)
    followers = int(min(5_000_000, max(1_000, rng.lognormvariate(10.1, 1.4))))
    gmv = 0.0 if rng.random() < 0.1 else min(1e9, followers * rng.lognormvariate(-2.5, 1.0))
    return {
        "platformId": f"c{n}",
        "handle": handle,
        "displayName": rng.choice((f"{first} {last}", f"{first} | {category}", f"{first} {last[0]}.")),
        "avatarUrl": f"https://cdn.example.com/avatars/c{n}.jpg" if rng.random() < 0.85 else None,
        "followerCount": followers,
        "mainCategory": category,
        "gmv30d": f"{gmv:.2f}",
    }


def platform_data(rng: random.Random, scale: int) -> tuple[dict, list[str]]:
    """The demo's shops, products and creators in the import file format, and each shop's category."""
    categories = ["Beauty"] + [rng.choice(CATEGORIES) for _ in range(len(_SHOP_TIERS) * scale - 1)]
    shops: list[dict[str, Any]] = []
    names: set[str] = set()
    next_product = 1
    for n, category in enumerate(categories):
        shops.append(_shop(rng, n, category, names, next_product))
        next_product += len(shops[-1]["products"])
    taken: set[str] = set()
    creators = [_creator(rng, n, taken) for n in range(1, 2000 * scale + 1)]
    return {"shops": shops, "creators": creators}, categories


def _apportion(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainders)."""
    shares = [total * weight / sum(weights) for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


# --- generation ----------------------------------------------------------------------------


@dataclass(slots=True)
class _ShopInfo:
    id: int
    name: str
    category: str
    limit: int  # weekly outreach limit
    weight: int  # share of the conversations
    products: list[tuple[int, str, str]]  # (id, title, price)
    collaborations: list[int]  # the ACTIVE ones
    rate: int  # commission percent quoted in texts


@dataclass(slots=True)
class _CreatorInfo:
    id: int
    handle: str
    first_name: str
    category: str
    followers: int


@dataclass(slots=True)
class _Plan:
    """A conversation before its messages exist."""

    shop: _ShopInfo
    creator: _CreatorInfo
    entrance: str
    created_at: datetime
    first_at: datetime | None  # None: opened by the seller, no message yet
    seed: int  # of the conversation's own generator
    blocked: bool = False
    script: tuple | None = None  # one of _C1_SCRIPT
    pin_to_end: bool = False  # its last message is the demo's newest


class _OutOfTime(Exception):
    """The conversation has reached the present: it stops here."""


class _Writer:
    """Buffers rows per table and writes them in foreign-key order: COPY on PostgreSQL (the rows
    stream in one command per table, with no statement to parse, plan and bind per batch),
    executemany elsewhere."""

    def __init__(self, conn: AsyncConnection, copy_connection: asyncpg.Connection | None = None) -> None:
        self.conn, self.copy_connection = conn, copy_connection
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        self.written: Counter[str] = Counter()

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows[table].append(row)

    async def flush(self) -> None:
        for name, rows in self.rows.items():
            if rows:
                await self._write(TABLES[name], rows)
                self.written[name] += len(rows)
                rows.clear()

    async def _write(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if self.copy_connection is None:
            await self.conn.execute(insert(table), rows)
            return
        columns = [column.name for column in table.c]
        record = itemgetter(*columns)
        await self.copy_connection.copy_records_to_table(
            table.name, records=[record(row) for row in rows], columns=columns
        )


class _Thread:
    """The messages of one conversation, appended in time order (so ids grow with time)."""

    def __init__(self, demo: "_Demo", conversation_id: int, plan: _Plan) -> None:
        # Its own generator: a change in one conversation leaves the others as they were.
        self.demo, self.rng, self.id, self.plan = demo, random.Random(plan.seed), conversation_id, plan
        self.at = plan.first_at or plan.created_at  # (a conversation without messages never reads it)
        self.rows: list[dict[str, Any]] = []
        self.samples: list[dict[str, Any]] = []
        shop, creator = plan.shop, plan.creator
        self.words = {
            "name": creator.first_name,
            "shop": shop.name,
            "category": creator.category.lower(),
            "followers": f"{creator.followers:,}",
            "rate": shop.rate,
        }

    def wait(self, seconds: float, clamp: bool = False) -> None:
        """Move the clock on; past the demo's end raise _OutOfTime, or stop at the end if clamped."""
        at = self.at + timedelta(seconds=seconds)
        if at > self.demo.end and not clamp:
            raise _OutOfTime
        self.at = min(at, self.demo.end)

    def last_speaker(self) -> str | None:
        return next((row["sender_role"] for row in reversed(self.rows) if row["sender_role"] != "SYSTEM"), None)

    def message(self, role: str, kind: str, **content: Any) -> dict[str, Any]:
        """Append a message; `content` sets its kind's columns."""
        self.demo.message_id += 1
        number = self.demo.message_id
        key = {"SELLER": f"shop:{self.plan.shop.id}", "CREATOR": f"creator:{self.plan.creator.id}"}.get(role)
        row = {
            "id": number,
            "conversation_id": self.id,
            "sender_role": role,
            "sender_key": key,
            "kind": kind,
            "text": None,
            "product_id": None,
            "collaboration_id": None,
            "sample_request_id": None,
            "notice_code": None,
            "client_message_id": key and f"demo-{number}",
            "client_batch_id": None,
            "created_at": self.at,
            "image_id": None,
        } | content
        self.rows.append(row)
        return row

    def say(self, role: str, templates: tuple[str, ...], **content: Any) -> None:
        """A text from one of `templates`, with small variations."""
        rng, shop = self.rng, self.plan.shop
        _, title, price = rng.choice(shop.products)
        words = self.words | {
            "product": title,
            "price": price,
            "fee": rng.randrange(50, 1500, 50),
            "rate2": shop.rate + rng.randint(2, 8),
            "code": f"{self.plan.creator.handle[:6].upper()}{rng.randint(10, 30)}",
        }
        self.message(role, "TEXT", text=rng.choice(templates).format(**words) + rng.choice(_EMOJI), **content)

    def invite(self) -> None:
        self.message("SELLER", "COLLABORATION", collaboration_id=self.rng.choice(self.plan.shop.collaborations))

    def seller_turn_message(self) -> None:
        """Mostly text, sometimes a product card or a collaboration invite."""
        draw = self.rng.random()
        if draw < 0.10:
            self.message("SELLER", "PRODUCT", product_id=self.rng.choice(self.plan.shop.products)[0])
        elif draw < 0.15:
            self.invite()
        else:
            self.say("SELLER", _SELLER_REPLIES)

    def notice(self, code: str, wording: str, **content: Any) -> None:
        self.message("SYSTEM", "NOTICE", notice_code=code, text=wording, **content)

    def request_sample(self) -> None:
        """The creator's sample request card; most are decided hours later (if that is past)."""
        rng, demo = self.rng, self.demo
        demo.sample_id += 1
        product_id = rng.choice(self.plan.shop.products)[0]
        sample = {
            "id": demo.sample_id,
            "shop_id": self.plan.shop.id,
            "creator_id": self.plan.creator.id,
            "product_id": product_id,
            "conversation_id": self.id,
            "status": "PENDING",
            "note": rng.choice(_SAMPLE_NOTES),
            "reject_reason": None,
            "client_request_id": f"demo-sample-{demo.sample_id}",
            "created_at": self.at,
            "decided_at": None,
        }
        self.samples.append(sample)
        self.message("CREATOR", "SAMPLE_REQUEST", sample_request_id=sample["id"])
        if rng.random() < 0.75:
            self.wait(rng.lognormvariate(9.5, 1.0))
            if rng.random() < 0.7:
                sample.update(status="APPROVED", decided_at=self.at)
                self.notice("SAMPLE_APPROVED", "The shop approved your sample request.")
            else:
                reason = rng.choice(_REJECT_REASONS)
                sample.update(status="REJECTED", decided_at=self.at, reject_reason=reason)
                self.notice(
                    "SAMPLE_REJECTED",
                    "The shop rejected your sample request." + (f" Reason: {reason}" if reason else ""),
                )

    def block_and_unblock(self) -> None:
        """A block lifted later: both notices, or neither if the unblock would lie in the future."""
        self.wait(self.rng.lognormvariate(8, 1))
        blocked_at = self.at
        self.wait(self.rng.lognormvariate(11, 1))
        self.notice("CREATOR_BLOCKED", BLOCK_NOTICES["CREATOR_BLOCKED"], created_at=blocked_at)
        self.notice("CREATOR_UNBLOCKED", BLOCK_NOTICES["CREATOR_UNBLOCKED"])


class _Demo:
    """Generates and writes the demo rows; one instance per seed_demo call."""

    def __init__(self, rng: random.Random, scale: int, writer: _Writer) -> None:
        self.rng, self.scale, self.writer = rng, scale, writer
        now = utcnow()
        self.end = now - timedelta(minutes=3)  # the newest message
        self.start = now - HISTORY
        self.week_start = week_start(now)
        self.message_id = self.sample_id = 0
        self.shops: list[_ShopInfo] = []
        self.creators: list[_CreatorInfo] = []

    async def load_platform(self, conn: AsyncConnection, categories: list[str]) -> None:
        """Read the imported shops, products and creators back with their ids, in platform id order."""
        products: dict[int, list[tuple[int, str, str]]] = {}
        p = product_t.c
        for product_id, shop_id, title, price in await conn.execute(
            select(p.id, p.shop_id, p.title, p.price).order_by(p.id)
        ):
            products.setdefault(shop_id, []).append((product_id, title, f"{price:.2f}"))
        s = shop_t.c
        shops = await conn.execute(select(s.platform_id, s.id, s.name, s.affiliate_gmv_30d))
        for _, id_, name, gmv in sorted(shops, key=lambda row: int(row[0][1:])):
            n = len(self.shops)
            self.shops.append(
                _ShopInfo(
                    id_,
                    name,
                    categories[n],
                    weekly_limit(DEFAULT_TIERS, gmv),
                    _SHOP_TIERS[n % len(_SHOP_TIERS)][1],
                    products[id_],
                    [],
                    self.rng.randrange(8, 25),
                )
            )
        c = creator_t.c
        creators = await conn.execute(
            select(c.platform_id, c.id, c.handle, c.display_name, c.main_category, c.follower_count)
        )
        self.creators = [
            _CreatorInfo(id_, handle, name.split()[0], category, followers)
            for _, id_, handle, name, category, followers in sorted(creators, key=lambda row: int(row[0][1:]))
        ]

    def collaborations(self) -> None:
        """2-4 target collaborations per shop, the first always ACTIVE, all older than the chats."""
        rng, collaboration_id = self.rng, 0
        for shop in self.shops:
            for n, name in enumerate(rng.sample(_COLLABORATION_NAMES, rng.randint(2, 4))):
                collaboration_id += 1
                status = "ACTIVE" if n == 0 or rng.random() < 0.75 else "ENDED"
                if status == "ACTIVE":
                    shop.collaborations.append(collaboration_id)
                self.writer.add(
                    "target_collaboration",
                    {
                        "id": collaboration_id,
                        "shop_id": shop.id,
                        "name": name,
                        "status": status,
                        "commission_rate": Decimal(rng.randrange(500, 3001, 25)) / 10_000,
                        "created_at": self.start - timedelta(days=rng.uniform(5, 60)),
                    },
                )
                for position, product in enumerate(rng.sample(shop.products, rng.randint(1, 3))):
                    self.writer.add(
                        "collaboration_product",
                        {"collaboration_id": collaboration_id, "product_id": product[0], "position": position},
                    )

    # conversation plans ---------------------------------------------------------------------

    def plans(self) -> list[_Plan]:
        """Every conversation's shop, creator, entrance and opening time, oldest first."""
        total = 1500 * self.scale
        big = min(5000, total // 2)  # s1's inbox
        counts = [big] + _apportion(total - big, [shop.weight for shop in self.shops[1:]])
        by_category: dict[str, list[_CreatorInfo]] = {}
        for creator in self.creators:
            by_category.setdefault(creator.category, []).append(creator)
        plans = []
        for n, (shop, count) in enumerate(zip(self.shops, counts, strict=True)):
            scripted = [self._scripted_plan(shop, n)] if n < len(_C1_SCRIPT) else []
            creators = self._pick_creators(by_category[shop.category], count - len(scripted))
            plans += scripted + [self._plan(shop, creator) for creator in creators]
        self._cap_outreach(plans)
        self._block(plans)
        return sorted(plans, key=lambda plan: plan.created_at)

    def _pick_creators(self, same_category: list[_CreatorInfo], count: int) -> list[_CreatorInfo]:
        """`count` distinct creators other than c1, half of the draws from the shop's category."""
        chosen = {self.creators[0].id}
        picked: list[_CreatorInfo] = []
        while len(picked) < count:
            creator = self.rng.choice(same_category if self.rng.random() < 0.5 else self.creators)
            if creator.id not in chosen:
                chosen.add(creator.id)
                picked.append(creator)
        return picked

    def _plan(self, shop: _ShopInfo, creator: _CreatorInfo) -> _Plan:
        rng = self.rng
        entrance = rng.choices(_ENTRANCES, _ENTRANCE_WEIGHTS)[0]
        opened = self.start + (self.end - self.start - timedelta(hours=1)) * rng.random()
        if entrance not in SELLER_ENTRANCES:  # the creator's message opened it
            return _Plan(shop, creator, entrance, opened, opened, rng.getrandbits(64))
        first_at = None if rng.random() < 0.02 else opened + timedelta(seconds=rng.uniform(0, 90))
        return _Plan(shop, creator, entrance, opened, first_at, rng.getrandbits(64))

    def _scripted_plan(self, shop: _ShopInfo, n: int) -> _Plan:
        """Creator c1's conversation with shop n: a fixed view, so each of c1's folders has one."""
        opened = self.end - timedelta(days=2 + 3 * n)
        return _Plan(
            shop,
            self.creators[0],
            "FIND_CREATORS",
            opened,
            opened,
            self.rng.getrandbits(64),
            script=_C1_SCRIPT[n],
            pin_to_end=n == 0,
        )

    def _cap_outreach(self, plans: list[_Plan]) -> None:
        """Keep every shop at half its weekly limit: further openings move a week back.

        The move draws no random number, so the rest of the data does not depend on the date."""
        used: Counter[int] = Counter()
        for plan in sorted(plans, key=lambda plan: plan.script is None):  # scripted plans stay
            if not self._uses_outreach(plan):
                continue
            if used[plan.shop.id] < plan.shop.limit // 2:
                used[plan.shop.id] += 1
            else:
                assert plan.first_at is not None  # it uses outreach
                plan.created_at -= timedelta(weeks=1)
                plan.first_at -= timedelta(weeks=1)

    def _uses_outreach(self, plan: _Plan) -> bool:
        """The seller opened it and its first message falls in the current week."""
        return plan.entrance in SELLER_ENTRANCES and plan.first_at is not None and plan.first_at >= self.week_start

    def _block(self, plans: list[_Plan]) -> None:
        """A handful of blocked creators per scale unit, most of them with a conversation."""
        candidates = [plan for plan in plans if plan.script is None and plan.first_at is not None]
        for plan in self.rng.sample(candidates, 4 * self.scale):
            plan.blocked = True
        pairs = {(plan.shop.id, plan.creator.id) for plan in plans}
        wanted = len(pairs) + 2 * self.scale  # and a few without one
        while len(pairs) < wanted:
            pair = (self.rng.choice(self.shops).id, self.rng.choice(self.creators).id)
            if pair not in pairs:
                pairs.add(pair)
                self.writer.add(
                    "block",
                    {
                        "shop_id": pair[0],
                        "creator_id": pair[1],
                        "created_at": self.end - timedelta(days=self.rng.uniform(1, 60)),
                    },
                )

    # conversations --------------------------------------------------------------------------

    def conversation(self, conversation_id: int, plan: _Plan) -> None:
        """Generate one conversation with its messages, states, sample requests, block and outreach."""
        thread = _Thread(self, conversation_id, plan)
        if plan.first_at is not None:
            self._talk(thread)
        rows = thread.rows
        activity = rows[-1]["created_at"] if rows else plan.created_at
        self.writer.add(
            "conversation",
            {
                "id": conversation_id,
                "shop_id": plan.shop.id,
                "creator_id": plan.creator.id,
                "entrance": plan.entrance,
                "created_at": plan.created_at,
                "last_message_id": rows[-1]["id"] if rows else None,
                "last_activity_at": activity,
                "creator_has_replied": any(row["sender_role"] == "CREATOR" for row in rows),
                "seller_message_count": sum(row["sender_role"] == "SELLER" for row in rows),
            },
        )
        for sample in thread.samples:
            self.writer.add("sample_request", sample)
        for row in rows:
            self.writer.add("message", row)
            if row["kind"] == "TEXT":  # as services.search.index_message would
                self.writer.add(
                    "message_search",
                    {
                        "message_id": row["id"],
                        "conversation_id": conversation_id,
                        "shop_id": plan.shop.id,
                        "creator_id": plan.creator.id,
                        "body": fold(row["text"]),
                    },
                )
        self.writer.add(
            "conversation_state", self._state(thread, "SELLER", plan.shop.id, plan.creator.id, activity, None)
        )
        self.writer.add(
            "conversation_state",
            self._state(thread, "CREATOR", plan.creator.id, plan.creator.id, activity, plan.script),
        )
        if plan.blocked:
            self.writer.add("block", {"shop_id": plan.shop.id, "creator_id": plan.creator.id, "created_at": activity})
        if self._uses_outreach(plan):
            self.writer.add(
                "outreach_unit",
                {
                    "shop_id": plan.shop.id,
                    "week_start": self.week_start,
                    "creator_id": plan.creator.id,
                    "created_at": plan.first_at,
                },
            )

    def _talk(self, thread: _Thread) -> None:
        """The messages: an opening, maybe an exchange, then the script's or the block's ending."""
        try:
            if self._open(thread):
                self._exchange(thread)
        except _OutOfTime:
            pass
        plan = thread.plan
        if plan.script is not None and (plan.pin_to_end or thread.last_speaker() != plan.script[0]):
            if plan.pin_to_end:
                thread.at = self.end
            else:
                thread.wait(thread.rng.uniform(60, 3600), clamp=True)
            thread.say(plan.script[0], _SELLER_REPLIES if plan.script[0] == "SELLER" else _CREATOR_REPLIES)
        if plan.blocked:
            thread.wait(thread.rng.lognormvariate(10, 1), clamp=True)
            thread.notice("CREATOR_BLOCKED", BLOCK_NOTICES["CREATOR_BLOCKED"])

    def _open(self, thread: _Thread) -> bool:
        """The first messages; True when the creator has spoken."""
        rng, plan = thread.rng, thread.plan
        if plan.entrance == "SAMPLE_REQUEST":
            thread.request_sample()
            return True
        if plan.entrance == "CREATOR_INITIATED":
            thread.say("CREATOR", _CREATOR_OPENERS)
            return True
        if plan.entrance == "TARGETED_PLAN":
            thread.invite()
        else:
            batch = f"demo-bulk-{plan.shop.id}-{plan.created_at:%Y%m%d}" if plan.entrance == "BULK_MESSAGE" else None
            thread.say("SELLER", _SELLER_OPENERS, client_batch_id=batch)
        scripted = plan.script is not None
        # The pre-reply limit: the opener and at most four follow-ups before the creator answers.
        for _ in range(0 if scripted else rng.choices(range(PRE_REPLY_LIMIT), (50, 25, 13, 8, 4))[0]):
            thread.wait(rng.lognormvariate(11, 0.8))
            thread.say("SELLER", _SELLER_FOLLOW_UPS)
        if not scripted and rng.random() < 0.28:
            return False
        thread.wait(rng.lognormvariate(10, 1.2), clamp=scripted)
        thread.say("CREATOR", _CREATOR_FIRST_REPLIES)
        return True

    def _exchange(self, thread: _Thread) -> None:
        """Turns of one to three messages, the seller answering first."""
        rng, plan = thread.rng, thread.plan
        sampled = plan.entrance == "SAMPLE_REQUEST"
        role = "SELLER"
        for _ in range(min(60, int(rng.lognormvariate(1.58, 0.8)))):
            thread.wait(rng.lognormvariate(8.5, 1.3))
            for n in range(rng.choice((1, 1, 1, 2, 2, 3))):
                if n:
                    thread.wait(rng.uniform(15, 240))
                if role == "SELLER":
                    thread.seller_turn_message()
                elif not sampled and rng.random() < 0.03:
                    thread.request_sample()
                    sampled = True
                else:
                    thread.say("CREATOR", _CREATOR_REPLIES)
            if not plan.blocked and rng.random() < 0.0005:
                thread.block_and_unblock()
            role = "CREATOR" if role == "SELLER" else "SELLER"

    def _state(
        self, thread: _Thread, side: str, owner_id: int, creator_id: int, activity: datetime, script: tuple | None
    ) -> dict:
        """One side's folders and read position, consistent with the messages."""
        rng, rows = thread.rng, thread.rows
        other = "CREATOR" if side == "SELLER" else "SELLER"
        if script is None:
            starred, archived, unread = rng.random() < 0.1, rng.random() < 0.1, rng.random() < 0.75
        else:
            starred, archived, unread = script[1:]
        last_read = rows[-1]["id"] if rows else 0
        # Reading happens before replying: only the other side's messages since this side
        # last spoke can be unread; an archived chat was read before it was archived.
        waiting = list(_since_last_spoke(rows, side))
        if waiting and unread and not archived:
            first_unread = rng.choice(waiting)
            position = first_unread["id"] - rows[0]["id"]  # ids are consecutive in a conversation
            last_read = rows[position - 1]["id"] if position else 0
        spoken = thread.last_speaker()
        # Read when the message read up to was sent (as migration 0003 assumes for older data).
        read_at = rows[last_read - rows[0]["id"]]["created_at"] if last_read else None
        return {
            "conversation_id": thread.id,
            "side": side,
            "owner_id": owner_id,
            "creator_id": creator_id,
            "visible": side == "SELLER" or bool(rows),
            "starred": starred,
            "archived": archived,
            "last_read_message_id": last_read,
            "unread_count": sum(row["sender_role"] == other and row["id"] > last_read for row in rows),
            "unreplied": spoken == other,
            "last_activity_at": activity,
            "last_read_at": read_at,
        }


def _since_last_spoke(rows: list[dict[str, Any]], side: str) -> Iterator[dict[str, Any]]:
    """The other side's messages after `side`'s last one, newest first."""
    for row in reversed(rows):
        if row["sender_role"] == side:
            return
        if row["sender_role"] != "SYSTEM":
            yield row


# --- entry points --------------------------------------------------------------------------


async def _is_empty(conn: AsyncConnection) -> bool:
    has_rows = select(exists(select(shop_t.c.id)) | exists(select(creator_t.c.id)))
    return not await conn.scalar(has_rows)


async def database_is_empty(engine: AsyncEngine) -> bool:
    """True when no shop and no creator exists yet."""
    async with engine.connect() as conn:
        return await _is_empty(conn)


async def _copy_connection(conn: AsyncConnection) -> asyncpg.Connection | None:
    """asyncpg's connection for COPY (inside the transaction, which a statement has begun); None on SQLite."""
    if conn.dialect.name != "postgresql":
        return None
    return (await conn.get_raw_connection()).driver_connection


async def _reset_sequences(conn: AsyncConnection) -> None:
    """Point PostgreSQL's id sequences past the explicit ids, so later inserts don't collide."""
    if conn.dialect.name == "postgresql":
        for table in _SERIAL_TABLES:
            await conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )


async def _empty_tables(conn: AsyncConnection) -> None:
    """Delete every row of every application table (Alembic's version table stays)."""
    tables = metadata.sorted_tables
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"TRUNCATE {', '.join(table.name for table in tables)} RESTART IDENTITY"))
        return
    for table in reversed(tables):  # children before parents: foreign keys are enforced
        await conn.execute(table.delete())


async def seed_demo(
    engine: AsyncEngine, scale: int = 1, progress: bool = True, seed: int = 42, reset: bool = False
) -> DemoSummary:
    """Fill a migrated database with reproducible demo data in one transaction. The database must be
    empty, unless `reset`: then its application tables are emptied first, in the same transaction."""
    if not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be between 1 and {MAX_SCALE}")
    rng = random.Random(seed)
    data, categories = platform_data(rng, scale)
    rows = parse_import_data(data)
    del data  # `rows` holds it all from here on: free the raw records early
    async with engine.begin() as conn:
        if reset:
            await _empty_tables(conn)
        elif not await _is_empty(conn):
            raise DatabaseNotEmpty("demo data goes only into an empty database")
        imported = await apply_import(conn, rows)
        writer = _Writer(conn, await _copy_connection(conn))
        demo = _Demo(rng, scale, writer)
        await demo.load_platform(conn, categories)
        demo.collaborations()
        plans = demo.plans()
        for conversation_id, plan in enumerate(tqdm(plans, unit="conversation", disable=not progress), 1):
            demo.conversation(conversation_id, plan)
            if len(writer.rows["message"]) >= FLUSH_MESSAGES:
                await writer.flush()
        await writer.flush()
        await _reset_sequences(conn)
    return DemoSummary(shop=imported.shops, creator=imported.creators, product=imported.products, **writer.written)
