"""The constants of the seller rules, in one place."""

# Messages a seller may send in a conversation before the creator's first reply.
PRE_REPLY_LIMIT = 5
# Creators one bulk send may reach.
BULK_LIMIT = 100
MIN_COMMISSION, MAX_COMMISSION = "0.01", "0.80"
