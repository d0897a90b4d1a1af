"""Fields that come from other areas of the domain (recommendations, models, feedback)."""

from __future__ import annotations

from graphql import GraphQLField


def query_fields() -> dict[str, GraphQLField]:
    return {}


def mutation_fields() -> dict[str, GraphQLField]:
    return {}
