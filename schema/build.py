"""Assembles the schema from the root types."""

import strawberry

from schema.errors import classify
from schema.mutation import Mutation
from schema.query import Query
from schema.subscription import Subscription


class InboxSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        for error in errors:
            classify(error)


schema = InboxSchema(query=Query, mutation=Mutation, subscription=Subscription)
