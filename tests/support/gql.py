"""GraphQL documents and small helpers shared by the tests."""

from resolvers.ids import decode_id, encode_cursor, encode_id

INBOX = """
query Inbox($folder: InboxFolder, $filter: CreatorFilter, $first: Int, $after: String) {
  conversations(folder: $folder, filter: $filter, first: $first, after: $after) {
    edges { cursor node {
      id entrance lastActivityAt unreadCount isStarred isArchived isUnreplied isBlocked
      creatorHasReplied messagesRemainingBeforeReply
      creator { id handle displayName avatarUrl followerCount mainCategory gmv30d }
      shop { id name }
      lastMessage { id senderRole isMine createdAt content { __typename ... on TextContent { text } } }
    } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""

SEND = """
mutation Send($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message { id senderRole isMine clientMessageId content { __typename ... on TextContent { text } } }
    conversation { id unreadCount creatorHasReplied messagesRemainingBeforeReply isUnreplied }
    userErrors { code message field }
  }
}"""

# The live messages of the viewer's conversations (or of one), after a cursor or from now.
MESSAGE_ADDED = """
subscription Live($conversationId: ID, $after: String) {
  messageAdded(conversationId: $conversationId, after: $after) {
    id senderRole isMine content { ... on TextContent { text } } conversation { id unreadCount }
  }
}"""


def gid(type_name: str, pk: int) -> str:
    return encode_id(type_name, pk)


def message_cursor(message_id: str) -> str:
    """The MessageEdge cursor of a message, from its global id (what `after` takes)."""
    return encode_cursor(decode_id(message_id, "Message"))


def text_to_creator(creator: int, text: str, key: str, **extra) -> dict:
    return {"input": {"creatorId": gid("Creator", creator), "clientMessageId": key, "content": {"text": text}, **extra}}


def text_to_shop(shop: int, text: str, key: str) -> dict:
    return {"input": {"shopId": gid("Shop", shop), "clientMessageId": key, "content": {"text": text}}}


# --- Write side: mutation documents and helpers (tests/rules/test_send.py and friends) -----------

MESSAGE_FIELDS = """
  id senderRole isMine clientMessageId createdAt isReadByOtherSide
  content {
    __typename
    ... on TextContent { text }
    ... on SystemNotice { code text }
    ... on ProductCard { product { id } }
    ... on CollaborationInvite { collaboration { id } }
    ... on SampleRequestCard { sampleRequest { id status } }
  }"""

CONVERSATION_FIELDS = """
  id entrance unreadCount isStarred isArchived isUnreplied isBlocked isBlockedByCreator creatorHasReplied
  messagesRemainingBeforeReply
  creator { id } shop { id }
  lastMessage { id senderRole }"""

SEND_FULL = """
mutation SendFull($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message { %s }
    conversation { %s }
    userErrors { code message field }
  }
}""" % (MESSAGE_FIELDS, CONVERSATION_FIELDS)

START_CONVERSATION = (
    """
mutation Start($input: StartConversationInput!) {
  startConversation(input: $input) {
    conversation { %s }
    userErrors { code message field }
  }
}"""
    % CONVERSATION_FIELDS
)

SEND_BULK = """
mutation Bulk($input: SendBulkMessageInput!) {
  sendBulkMessage(input: $input) {
    results { creatorId message { id senderRole clientMessageId } userErrors { code message field } }
    sentCount failedCount
    userErrors { code message field }
  }
}"""

CONVERSATION_ACTIONS = ("starConversation", "unstarConversation", "archiveConversation", "unarchiveConversation")


def conversation_action(name: str) -> str:
    """The document of star/unstar/archive/unarchiveConversation."""
    return """
mutation Act($input: ConversationInput!) {
  %s(input: $input) { conversation { %s } userErrors { code message field } }
}""" % (name, CONVERSATION_FIELDS)


MARK_READ = (
    """
mutation MarkRead($input: MarkConversationReadInput!) {
  markConversationRead(input: $input) { conversation { %s } userErrors { code message field } }
}"""
    % CONVERSATION_FIELDS
)

MARK_MANY_READ = """
mutation MarkManyRead($ids: [ID!]!) {
  markConversationsRead(input: {conversationIds: $ids}) {
    conversations { id unreadCount } userErrors { code message field }
  }
}"""

MARK_ALL_READ = """
mutation MarkAllRead($folder: InboxFolder) {
  markAllConversationsRead(input: {folder: $folder}) {
    markedCount inboxCounts { all unread unreplied starred archived } userErrors { code message field }
  }
}"""

BLOCK = (
    """
mutation Block($input: CreatorInput!) {
  blockCreator(input: $input) {
    creator { id isBlocked } conversation { %s } userErrors { code message field }
  }
}"""
    % CONVERSATION_FIELDS
)

UNBLOCK = BLOCK.replace("blockCreator", "unblockCreator").replace("mutation Block", "mutation Unblock")

BLOCK_SHOP = f"""
mutation BlockShop($input: ShopInput!) {{
  blockShop(input: $input) {{
    shop {{ id isBlocked }} conversation {{ {CONVERSATION_FIELDS} }} userErrors {{ code message field }}
  }}
}}"""

UNBLOCK_SHOP = BLOCK_SHOP.replace("blockShop", "unblockShop").replace("mutation BlockShop", "mutation UnblockShop")

SAMPLE_FIELDS = """
  id status note rejectReason decidedAt createdAt
  shop { id } creator { id } product { id } conversation { id entrance }"""

REQUEST_SAMPLE = (
    """
mutation RequestSample($input: RequestSampleInput!) {
  requestSample(input: $input) { sampleRequest { %s } userErrors { code message field } }
}"""
    % SAMPLE_FIELDS
)

APPROVE_SAMPLE = (
    """
mutation Approve($input: ApproveSampleRequestInput!) {
  approveSampleRequest(input: $input) { sampleRequest { %s } userErrors { code message field } }
}"""
    % SAMPLE_FIELDS
)

REJECT_SAMPLE = (
    """
mutation Reject($input: RejectSampleRequestInput!) {
  rejectSampleRequest(input: $input) { sampleRequest { %s } userErrors { code message field } }
}"""
    % SAMPLE_FIELDS
)

CREATE_COLLABORATION = """
mutation Collab($input: CreateTargetCollaborationInput!) {
  createTargetCollaboration(input: $input) {
    collaboration { id name commissionRate status products { id } shop { id } }
    userErrors { code message field }
  }
}"""

QUOTA = "query Quota { outreachQuota { weeklyLimit used remaining periodStart resetsAt } }"

COUNTS = "query Counts { inboxCounts { all unread unreplied starred archived } }"

CONVERSATION = """
query Conversation($id: ID!) {
  conversation(id: $id) {
    %s
    messages(last: 100) { nodes { %s } }
    sampleRequests { id status }
  }
}""" % (CONVERSATION_FIELDS, MESSAGE_FIELDS)

CREATOR_CONVERSATION = """
query CreatorConversation($id: ID!) {
  creator(id: $id) { id isBlocked conversation { %s messages(last: 100) { nodes { %s } } } }
}""" % (CONVERSATION_FIELDS, MESSAGE_FIELDS)

FOLDER_IDS = """
query FolderIds($folder: InboxFolder) {
  conversations(folder: $folder, first: 100) { nodes { id } }
}"""


def product_to_creator(creator: int, product: int, key: str, **extra) -> dict:
    return {
        "input": {
            "creatorId": gid("Creator", creator),
            "clientMessageId": key,
            "content": {"productId": gid("Product", product)},
            **extra,
        }
    }


def invite_to_creator(creator: int, collaboration_gid: str, key: str, **extra) -> dict:
    return {
        "input": {
            "creatorId": gid("Creator", creator),
            "clientMessageId": key,
            "content": {"collaborationId": collaboration_gid},
            **extra,
        }
    }


def text_in(conversation_gid: str, text: str, key: str) -> dict:
    return {"input": {"conversationId": conversation_gid, "clientMessageId": key, "content": {"text": text}}}


def start_input(creator: int, entrance: str = "CREATOR_MESSAGES") -> dict:
    return {"input": {"creatorId": gid("Creator", creator), "entrance": entrance}}


def bulk_input(creators, text: str, batch: str) -> dict:
    return {
        "input": {
            "creatorIds": [gid("Creator", c) for c in creators],
            "content": {"text": text},
            "clientBatchId": batch,
        }
    }


def sample_input(product: int, key: str, note: str | None = None) -> dict:
    return {"input": {"productId": gid("Product", product), "clientRequestId": key, "note": note}}


def creator_input(creator: int) -> dict:
    return {"input": {"creatorId": gid("Creator", creator)}}


def shop_input(shop: int) -> dict:
    return {"input": {"shopId": gid("Shop", shop)}}


def collaboration_input(products, rate: str = "0.15", name: str = "Spring launch") -> dict:
    return {"input": {"name": name, "productIds": [gid("Product", p) for p in products], "commissionRate": rate}}


async def send(api, variables: dict, *, as_: str) -> dict:
    """The sendMessage payload (with full message and conversation fields)."""
    return (await api.query(SEND_FULL, variables, as_=as_))["sendMessage"]


async def send_ok(api, variables: dict, *, as_: str) -> dict:
    """The sendMessage payload of a send that must succeed."""
    payload = await send(api, variables, as_=as_)
    assert payload["userErrors"] == [] and payload["message"], payload
    return payload


async def refused(api, document: str, variables: dict, *, as_: str) -> dict:
    """The payload of a mutation that must return exactly one userError."""
    data = await api.query(document, variables, as_=as_)
    (payload,) = data.values()
    assert len(payload["userErrors"]) == 1, payload
    return payload


async def quota(api, as_: str = "shop:s1") -> dict:
    return (await api.query(QUOTA, as_=as_))["outreachQuota"]


async def counts(api, *, as_: str) -> dict:
    return (await api.query(COUNTS, as_=as_))["inboxCounts"]


async def conversation(api, conversation_gid: str, *, as_: str) -> dict | None:
    return (await api.query(CONVERSATION, {"id": conversation_gid}, as_=as_))["conversation"]


async def conversation_with(api, creator: int, *, as_: str = "shop:s1") -> dict | None:
    """The seller's conversation with creator `creator` (with messages), or None."""
    data = await api.query(CREATOR_CONVERSATION, {"id": gid("Creator", creator)}, as_=as_)
    return data["creator"]["conversation"]


async def folder_ids(api, folder: str, *, as_: str) -> set[str]:
    data = await api.query(FOLDER_IDS, {"folder": folder}, as_=as_)
    return {node["id"] for node in data["conversations"]["nodes"]}


async def start(api, creator: int, entrance: str = "CREATOR_MESSAGES", *, as_: str = "shop:s1") -> dict:
    """The conversation startConversation finds or opens (must succeed)."""
    payload = (await api.query(START_CONVERSATION, start_input(creator, entrance), as_=as_))["startConversation"]
    assert payload["userErrors"] == [] and payload["conversation"], payload
    return payload["conversation"]


async def act(api, action: str, conversation_id: str, *, as_: str) -> dict:
    """The conversation after a star/unstar/archive/unarchive mutation (must succeed)."""
    data = await api.query(conversation_action(action), {"input": {"conversationId": conversation_id}}, as_=as_)
    payload = data[action]
    assert payload["userErrors"] == [], payload
    return payload["conversation"]


async def mark_read(api, conversation_id: str, up_to: str | None = None, *, as_: str) -> dict:
    """The conversation after markConversationRead, up to a message or to the newest (must succeed)."""
    variables = {"input": {"conversationId": conversation_id, "upToMessageId": up_to}}
    payload = (await api.query(MARK_READ, variables, as_=as_))["markConversationRead"]
    assert payload["userErrors"] == [], payload
    return payload["conversation"]


async def create_collaboration(api, products=(1,), rate: str = "0.15", *, as_: str = "shop:s1") -> str:
    """The global id of a new target collaboration (must succeed)."""
    data = await api.query(CREATE_COLLABORATION, collaboration_input(products, rate), as_=as_)
    payload = data["createTargetCollaboration"]
    assert payload["userErrors"] == [], payload
    return payload["collaboration"]["id"]


async def request_sample(api, product: int, key: str, note: str | None = None, *, as_: str) -> dict:
    """The sample request requestSample creates (must succeed)."""
    payload = (await api.query(REQUEST_SAMPLE, sample_input(product, key, note), as_=as_))["requestSample"]
    assert payload["userErrors"] == [] and payload["sampleRequest"], payload
    return payload["sampleRequest"]


async def use_up_quota(api, creators, *, as_: str = "shop:s1") -> None:
    """First messages to each of `creators`, one outreach unit each."""
    for creator in creators:
        await send_ok(api, text_to_creator(creator, f"Hello creator {creator}", f"quota-{creator}"), as_=as_)


def pk_of(global_id: str) -> int:
    """The primary key inside a global id."""
    from resolvers.ids import decode_any_id

    return decode_any_id(global_id)[1]


# --- Read side helpers (tests/api/test_inbox.py, tests/rules/test_marketplace.py and friends) ---


def type_of(global_id: str) -> str:
    """The type name inside a global id."""
    from resolvers.ids import decode_any_id

    return decode_any_id(global_id)[0]


async def say(api, to: str, text: str, *, as_: str) -> dict:
    """The sendMessage payload of a text to a Creator, Shop or Conversation global id (must succeed)."""
    import uuid

    target = {"Creator": "creatorId", "Shop": "shopId", "Conversation": "conversationId"}[type_of(to)]
    variables = {"input": {target: to, "clientMessageId": f"say-{uuid.uuid4().hex}", "content": {"text": text}}}
    return await send_ok(api, variables, as_=as_)


def dig(data: dict, path: str):
    """data["a"]["b"] for path "a.b"."""
    for part in path.split("."):
        data = data[part]
    return data


async def all_pages(
    api, document: str, variables: dict, path: str, *, as_: str, first: int, backward: bool = False, limit: int = 200
) -> tuple[list[dict], list[dict]]:
    """(every edge, every pageInfo) of a connection at `path`, walked page by page with
    first/after (or last/before when backward); edges come back in the connection's order."""
    edges: list[dict] = []
    infos: list[dict] = []
    cursor = None
    for _ in range(limit):
        page_vars = dict(
            variables, **({"last": first, "before": cursor} if backward else {"first": first, "after": cursor})
        )
        connection = dig(await api.query(document, page_vars, as_=as_), path)
        info = connection["pageInfo"]
        edges = connection["edges"] + edges if backward else edges + connection["edges"]
        infos.append(info)
        if not (info["hasPreviousPage"] if backward else info["hasNextPage"]):
            return edges, infos
        cursor = info["startCursor"] if backward else info["endCursor"]
    raise AssertionError(f"{path}: more than {limit} pages")
