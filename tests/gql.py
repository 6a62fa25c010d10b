"""GraphQL documents and small helpers shared by the tests."""

from resolvers.ids import encode_id

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


def gid(type_name: str, pk: int) -> str:
    return encode_id(type_name, pk)


def text_to_creator(creator: int, text: str, key: str, **extra) -> dict:
    return {"input": {"creatorId": gid("Creator", creator), "clientMessageId": key,
                      "content": {"text": text}, **extra}}


def text_to_shop(shop: int, text: str, key: str) -> dict:
    return {"input": {"shopId": gid("Shop", shop), "clientMessageId": key, "content": {"text": text}}}
