"""The GraphQL documents of each scenario, for the API and for PostGraphile, and the row ids
each answer holds (compared before timing: both servers must return the same page)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

PAGE = 50
FILTER = {"minFollowers": 10_000, "categories": ["Beauty", "Fashion"]}

# The inbox page of the brief: 50 conversations of the seller side, newest activity first, with
# creator handle, follower count, category, avatar, last message content and time, unread
# count, star/archive flags.
API_INBOX = (
    """
query BenchInbox($folder: InboxFolder, $filter: CreatorFilter) {
  conversations(folder: $folder, filter: $filter, first: %d) {
    edges { cursor node {
      id lastActivityAt unreadCount isStarred isArchived
      creator { id handle avatarUrl followerCount mainCategory }
      lastMessage { id createdAt content { __typename ... on TextContent { text } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""
    % PAGE
)

PEER_INBOX = (
    """
query BenchInbox($owner: Int!, $filter: ConversationStateFilter) {
  allConversationStates(first: %d, filter: $filter,
      condition: {side: "SELLER", ownerId: $owner, visible: true, archived: false},
      orderBy: [LAST_ACTIVITY_AT_DESC, CONVERSATION_ID_DESC]) {
    edges { cursor node {
      conversationId lastActivityAt unreadCount starred archived
      conversationByConversationId {
        creatorByCreatorId { rowId handle avatarUrl followerCount mainCategory }
        lastMessage { rowId createdAt kind text }
      }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""
    % PAGE
)

# The brief's messages page: the latest 50 messages of one conversation, oldest first.
API_MESSAGES = (
    """
query BenchMessages($id: ID!) {
  conversation(id: $id) { messages(last: %d) { edges { cursor node {
    id senderRole createdAt content { __typename ... on TextContent { text } }
  } } } }
}"""
    % PAGE
)

PEER_MESSAGES = (
    """
query BenchMessages($id: Int!) {
  conversationByRowId(rowId: $id) { messagesByConversationId(last: %d, orderBy: [PRIMARY_KEY_ASC]) {
    edges { cursor node { rowId senderRole createdAt kind text } }
  } }
}"""
    % PAGE
)

# The chat page with read receipts ("Seen"): the same 50 messages, each with `isReadByOtherSide`, and the
# conversation's `otherSideLastReadAt`. PostGraphile gets what a client needs to derive them: both sides'
# read positions (the conversation's two state rows) beside the page.
API_MESSAGES_RECEIPTS = (
    """
query BenchMessagesReceipts($id: ID!) {
  conversation(id: $id) { otherSideLastReadAt messages(last: %d) { edges { cursor node {
    id senderRole createdAt isReadByOtherSide content { __typename ... on TextContent { text } }
  } } } }
}"""
    % PAGE
)

PEER_MESSAGES_RECEIPTS = (
    """
query BenchMessagesReceipts($id: Int!) {
  conversationByRowId(rowId: $id) {
    conversationStatesByConversationId { nodes { side lastReadMessageId lastReadAt } }
    messagesByConversationId(last: %d, orderBy: [PRIMARY_KEY_ASC]) {
      edges { cursor node { rowId senderRole createdAt kind text } }
    }
  }
}"""
    % PAGE
)

API_COUNTS = "query BenchCounts { inboxCounts { all unread unreplied starred archived } }"

_SIDE = 'side: "SELLER", ownerId: $owner, visible: true'
PEER_COUNTS = f"""
query BenchCounts($owner: Int!) {{
  all: allConversationStates(condition: {{{_SIDE}, archived: false}}) {{ totalCount }}
  unread: allConversationStates(condition: {{{_SIDE}, archived: false}},
                                filter: {{unreadCount: {{greaterThan: 0}}}}) {{ totalCount }}
  unreplied: allConversationStates(condition: {{{_SIDE}, archived: false, unreplied: true}}) {{ totalCount }}
  starred: allConversationStates(condition: {{{_SIDE}, starred: true}}) {{ totalCount }}
  archived: allConversationStates(condition: {{{_SIDE}, archived: true}}) {{ totalCount }}
}}"""

SEND = """
mutation BenchSend($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message { id createdAt }
    userErrors { code message }
  }
}"""

# Message search: a 3-character and a 10-character query in many of the demo's texts (about 20% and 3%
# of s1's), and a 10-character one in few (0.05%), which PostgreSQL answers from the trigram index;
# over all of s1's conversations and within the one of s1's conversations where it is found most often.
SEARCH_QUERIES = {"3": "vid", "10": "engagement", "10_rare": "hi mason, "}
API_SEARCH = """
query BenchSearch($query: String!, $conversationId: ID) {
  searchMessages(query: $query, conversationId: $conversationId, first: 20) {
    edges { cursor snippet node { id senderRole createdAt content { __typename ... on TextContent { text } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

SUBSCRIPTION = "subscription BenchLive { messageAdded { id createdAt content { ... on TextContent { text } } } }"

# Marking a whole inbox read (API only): s1's 5,000 conversations, each unread, then one mutation.
API_MARK_ALL = """
mutation BenchMarkAll {
  markAllConversationsRead(input: {folder: ALL}) { markedCount inboxCounts { all unread } userErrors { code message } }
}"""

# Before each timed mark (not timed): every conversation of s1's seller side in ALL and unread from its first
# message on, as consistent rows (the unread count is the creator's messages).
MARK_ALL_RESET = """
UPDATE conversation_state s SET archived = false, last_read_message_id = 0, last_read_at = NULL,
  unread_count = (SELECT count(*) FROM message m WHERE m.conversation_id = s.conversation_id
                  AND m.sender_role = 'CREATOR')
WHERE s.side = 'SELLER' AND s.owner_id = $1"""

# The conversations a mark moves: those with a message.
MARK_ALL_BEHIND = """
SELECT count(*) FILTER (WHERE c.last_message_id IS NOT NULL) AS behind,
       count(*) FILTER (WHERE s.unread_count > 0) AS unread
FROM conversation_state s JOIN conversation c ON c.id = s.conversation_id
WHERE s.side = 'SELLER' AND s.owner_id = $1 AND s.visible"""


def encode_id(type_name: str, pk: int) -> str:
    """The API's global id (resolvers/ids.py: urlsafe base64 of "Type:pk", unpadded)."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(value: str) -> int:
    text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    return int(text.partition(":")[2])


@dataclass
class Scenario:
    """One read scenario: the same page asked of both servers."""

    name: str
    api_query: str
    api_variables: dict
    peer_query: str | None
    peer_variables: dict | None

    def api_ids(self, data: dict) -> list:
        return _ids(self.name, data, api=True)

    def peer_ids(self, data: dict) -> list:
        return _ids(self.name, data, api=False)


def _ids(name: str, data: dict, api: bool) -> list:
    if name.startswith("inbox"):
        if api:
            return [decode_id(e["node"]["id"]) for e in data["conversations"]["edges"]]
        return [e["node"]["conversationId"] for e in data["allConversationStates"]["edges"]]
    if name.startswith("messages"):
        if api:
            return [decode_id(e["node"]["id"]) for e in data["conversation"]["messages"]["edges"]]
        return [int(e["node"]["rowId"]) for e in data["conversationByRowId"]["messagesByConversationId"]["edges"]]
    if name.startswith("search"):
        return [decode_id(e["node"]["id"]) for e in data["searchMessages"]["edges"]]
    if name == "counts":
        if api:
            return [data["inboxCounts"][k] for k in ("all", "unread", "unreplied", "starred", "archived")]
        return [data[k]["totalCount"] for k in ("all", "unread", "unreplied", "starred", "archived")]
    raise KeyError(name)


def read_scenarios(shop_pk: int, busy_conversation: int) -> list[Scenario]:
    peer_creator = {
        "conversationByConversationId": {
            "creatorByCreatorId": {
                "followerCount": {"greaterThanOrEqualTo": FILTER["minFollowers"]},
                "mainCategory": {"in": FILTER["categories"]},
            }
        }
    }
    return [
        Scenario("inbox_all", API_INBOX, {"folder": "ALL"}, PEER_INBOX, {"owner": shop_pk}),
        Scenario(
            "inbox_unread",
            API_INBOX,
            {"folder": "UNREAD"},
            PEER_INBOX,
            {"owner": shop_pk, "filter": {"unreadCount": {"greaterThan": 0}}},
        ),
        Scenario(
            "inbox_filtered",
            API_INBOX,
            {"folder": "ALL", "filter": FILTER},
            PEER_INBOX,
            {"owner": shop_pk, "filter": peer_creator},
        ),
        Scenario(
            "messages",
            API_MESSAGES,
            {"id": encode_id("Conversation", busy_conversation)},
            PEER_MESSAGES,
            {"id": busy_conversation},
        ),
        Scenario(
            "messages_receipts",
            API_MESSAGES_RECEIPTS,
            {"id": encode_id("Conversation", busy_conversation)},
            PEER_MESSAGES_RECEIPTS,
            {"id": busy_conversation},
        ),
        # Image messages (issue 16) go here: a `messages_images` scenario, the chat page of a conversation
        # with image messages (ImageContent's fields beside TextContent's), for both servers.
        Scenario("counts", API_COUNTS, {}, PEER_COUNTS, {"owner": shop_pk}),
    ]


def search_scenarios(conversations: dict[str, int]) -> list[Scenario]:
    """The search scenarios (API only); `conversations` maps each query to the conversation searched in."""
    scenarios = []
    for length, query in SEARCH_QUERIES.items():
        scenarios.append(Scenario(f"search_{length}_shop", API_SEARCH, {"query": query}, None, None))
        scenarios.append(
            Scenario(
                f"search_{length}_conversation",
                API_SEARCH,
                {"query": query, "conversationId": encode_id("Conversation", conversations[query])},
                None,
                None,
            )
        )
    return scenarios
