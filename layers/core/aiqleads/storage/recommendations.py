"""Recommendation data in DynamoDB: candidates from the ScoreIndex, buyers with their purchases, exclusive sales,
the tenant's rules, served recommendations and feedback.

LeadsTable   pk = <tenant>#<lead id>
    sk = score   the score item; `card` (JSON, recommendations/card.py) and `sold_exclusive_at` ride on it, so a
                 ScoreIndex query (gsi1pk = <tenant>#<market>, best first) returns candidates ready to rank
    sk = sale    who bought the lead: exclusive (bool), buyers (count), sold_at; the transaction's guard
BuyersTable  pk = <tenant>#<buyer id>
    sk = profile | purchase#<lead id> | rec#<lead id> (served recommendation) | feedback#<recommendation id>
             pk = <tenant>#config, sk = recommendations: the tenant's RecommendationConfig (JSON)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from aiqleads.errors import Conflict
from aiqleads.iam import Access, access
from aiqleads.models import Buyer, Lead, Recommendation, RecommendationFeedback
from aiqleads.recommendations.card import LeadCard
from aiqleads.recommendations.config import RecommendationConfig
from aiqleads.recommendations.ids import recommendation_id
from aiqleads.recommendations.ranking import BuyerContext, Candidate, Purchase
from aiqleads.storage.aws import DynamoTable
from aiqleads.storage.batch import batch_get, batch_put
from aiqleads.storage.buyers import PROFILE_SK, BuyerRepository, buyer_key
from aiqleads.storage.codec import encode_item
from aiqleads.storage.leads import LEAD_SK, SCORE_SK, lead_key

SCORE_INDEX = "ScoreIndex"
SALE_SK = "sale"
PURCHASE_PREFIX = "purchase#"
REC_PREFIX = "rec#"
# A served recommendation is kept long enough for its feedback and for training on it, then expires.
SERVED_RETENTION_SECONDS = 180 * 24 * 3600
FEEDBACK_PREFIX = "feedback#"
CONFIG_SK = "recommendations"
CONFIG_TTL_SECONDS = 60.0  # a rule change reaches every warm function within a minute
QUERY_PAGE = 100  # items per ScoreIndex query page
CANDIDATE_ATTRIBUTES = (
    "lead_id, market, probability, score, grade, fit, engagement, matrix_grade, model_version, card, "
    "sold_exclusive_at, reasons, recent_scores"
)


def config_key(tenant_id: str) -> str:
    return f"{tenant_id}#config"


def _s(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value.get("S"))


def candidate_from_item(item: dict[str, Any]) -> Candidate:
    """A raw (low-level client) score item as a candidate; reads only what ranking needs, without the generic
    deserializer (this runs for every candidate of every page)."""
    card = _s(item, "card")
    return Candidate(
        lead_id=item["lead_id"]["S"],
        market=item["market"]["S"],
        probability=float(item["probability"]["N"]),
        score=int(item["score"]["N"]),
        grade=item["grade"]["S"],
        model_version=item["model_version"]["S"],
        card=LeadCard.from_dict(json.loads(card)) if card else None,
        sold_exclusive_at=_s(item, "sold_exclusive_at"),
        reasons_json=_s(item, "reasons") or "[]",
        fit=int(item["fit"]["N"]) if "fit" in item else None,
        engagement=int(item["engagement"]["N"]) if "engagement" in item else None,
        matrix_grade=_s(item, "matrix_grade"),
        recent_scores=_s(item, "recent_scores"),
    )


def _cancelled_by(error: ClientError) -> list[str]:
    """The cancellation reason codes of a transaction, in request order ([] if the endpoint does not say)."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        raise error
    reasons = error.response.get("CancellationReasons") or []
    return [str(r.get("Code") or "None") for r in reasons]


class CandidateRepository(DynamoTable):
    IAM: ClassVar[tuple[Access, ...]] = (
        access("dynamodb:GetItem", "dynamodb:BatchGetItem", on="table_name"),  # candidate, cards, sales
        access("dynamodb:Query", on="table_name", path=f"index/{SCORE_INDEX}"),  # top
    )

    def __init__(self, leads_table: str, dynamodb: Any | None = None):
        super().__init__(leads_table, dynamodb)

    def top(self, tenant_id: str, market: str, limit: int) -> list[Candidate]:
        """The market's `limit` best-scored leads, best first: ScoreIndex pages of at most QUERY_PAGE items."""
        found: list[Candidate] = []
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": SCORE_INDEX,
            "KeyConditionExpression": "gsi1pk = :market",
            "ExpressionAttributeValues": {":market": {"S": f"{tenant_id}#{market}"}},
            "ProjectionExpression": CANDIDATE_ATTRIBUTES,
            "ScanIndexForward": False,
        }
        while len(found) < limit:
            request["Limit"] = min(QUERY_PAGE, limit - len(found))
            response = self.dynamodb.query(**request)
            found.extend(candidate_from_item(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        return self._with_cards(tenant_id, found)

    def candidate(self, tenant_id: str, lead_id: str) -> Candidate | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": lead_key(tenant_id, lead_id)}, "sk": {"S": SCORE_SK}},
            ProjectionExpression=CANDIDATE_ATTRIBUTES,
        )
        item = response.get("Item")
        return self._with_cards(tenant_id, [candidate_from_item(item)])[0] if item else None

    def _with_cards(self, tenant_id: str, candidates: list[Candidate]) -> list[Candidate]:
        """Score items written without the lead (older ones, bulk files) get their card from the lead item."""
        missing = [c.lead_id for c in candidates if c.card is None]
        if not missing:
            return candidates
        leads = {
            item["lead_id"]["S"]: LeadCard.of(Lead.model_validate_json(item["lead"]["S"]))
            for item in self._batch_get(tenant_id, missing, LEAD_SK, "lead_id, lead")
        }
        return [
            c if c.card is not None else Candidate(**{**_fields(c), "card": leads.get(c.lead_id)}) for c in candidates
        ]

    def sold_exclusive(self, tenant_id: str, lead_ids: Sequence[str]) -> dict[str, str]:
        """Which of the leads are sold exclusively, with when (the sale items are the truth; the score item's
        mark can be lost when a bulk file rewrites it)."""
        return {
            item["lead_id"]["S"]: item["sold_at"]["S"]
            for item in self._batch_get(tenant_id, lead_ids, SALE_SK, "lead_id, exclusive, sold_at")
            if item.get("exclusive", {}).get("BOOL")
        }

    def _batch_get(self, tenant_id: str, lead_ids: Sequence[str], sk: str, projection: str) -> list[dict[str, Any]]:
        keys = [{"pk": {"S": lead_key(tenant_id, i)}, "sk": {"S": sk}} for i in dict.fromkeys(lead_ids)]
        names = [name.strip() for name in projection.split(",")]
        return batch_get(
            self.dynamodb,
            self.table_name,
            keys,
            ProjectionExpression=", ".join(f"#p{i}" for i in range(len(names))),
            ExpressionAttributeNames={f"#p{i}": name for i, name in enumerate(names)},
        )


def _fields(candidate: Candidate) -> dict[str, Any]:
    return {name: getattr(candidate, name) for name in Candidate.__slots__}


class MarketplaceRepository(DynamoTable):
    IAM: ClassVar[tuple[Access, ...]] = (
        # buyer context, profiles, the purchase, rules, served recommendations (BatchWriteItem), feedback
        access(
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
            on="table_name",
        ),
        access("dynamodb:PutItem", "dynamodb:UpdateItem", on="leads_table"),  # the purchase's sale record and mark
    )

    """Buyers, purchases (with exclusive sales), the tenant's rules, served recommendations and feedback."""

    def __init__(self, buyers_table: str, leads_table: str | None, dynamodb: Any | None = None):
        """`leads_table` None: purchases are not recorded through this one (recommendation jobs only rank)."""
        super().__init__(buyers_table, dynamodb)
        self.leads_table = leads_table
        self._profiles = BuyerRepository(buyers_table, dynamodb)
        self._configs: dict[str, tuple[float, RecommendationConfig]] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- buyers
    def buyer_context(self, tenant_id: str, buyer_id: str) -> BuyerContext | None:
        """The profile and every purchase in one Query (sk `profile` and `purchase#...` both begin with p)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": buyer_key(tenant_id, buyer_id)}, ":p": {"S": "p"}},
        }
        profile: Buyer | None = None
        purchases: list[Purchase] = []
        while True:
            response = self.dynamodb.query(**request)
            for item in response.get("Items", []):
                sk = item["sk"]["S"]
                if sk == PROFILE_SK:
                    profile = Buyer.model_validate_json(item["buyer"]["S"])
                elif sk.startswith(PURCHASE_PREFIX):
                    purchases.append(
                        Purchase(
                            lead_id=item["lead_id"]["S"],
                            market=item["market"]["S"],
                            property_type=_s(item, "property_type"),
                            source=_s(item, "source"),
                            exclusive=bool(item.get("exclusive", {}).get("BOOL")),
                            purchased_at=_s(item, "purchased_at"),
                        )
                    )
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        return None if profile is None else BuyerContext(profile, tuple(purchases))

    def put_buyer(self, tenant_id: str, buyer: Buyer) -> None:
        self.dynamodb.put_item(
            TableName=self.table_name, Item=encode_item(self._profiles.profile_item(tenant_id, buyer))
        )

    def record_purchase(self, tenant_id: str, buyer_id: str, purchase: Purchase) -> None:
        """One transaction: the purchase, the lead's sale record and (exclusive) the mark on its score item.
        Conflict when the buyer already has it, it is sold exclusively, or an exclusive sale finds other buyers."""
        if self.leads_table is None:
            raise RuntimeError("purchases are recorded by the API, not by recommendation jobs")
        sale = (
            self._exclusive_sale(tenant_id, buyer_id, purchase)
            if purchase.exclusive
            else [self._shared_sale(tenant_id, purchase)]
        )
        items = [self._purchase_put(tenant_id, buyer_id, purchase), *sale]
        try:
            self.dynamodb.transact_write_items(TransactItems=items)
        except ClientError as error:
            raise _purchase_conflict(error, buyer_id, purchase) from None

    def _purchase_put(self, tenant_id: str, buyer_id: str, purchase: Purchase) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": buyer_key(tenant_id, buyer_id)},
            "sk": {"S": PURCHASE_PREFIX + purchase.lead_id},
            "tenant_id": {"S": tenant_id},
            "buyer_id": {"S": buyer_id},
            "lead_id": {"S": purchase.lead_id},
            "market": {"S": purchase.market},
            "exclusive": {"BOOL": purchase.exclusive},
            "purchased_at": {"S": str(purchase.purchased_at)},
        }
        for name in ("property_type", "source"):
            value = getattr(purchase, name)
            if value:
                item[name] = {"S": value}
        return {"Put": {"TableName": self.table_name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def _exclusive_sale(self, tenant_id: str, buyer_id: str, purchase: Purchase) -> list[dict[str, Any]]:
        """The lead's sale record (only if nobody bought it yet) and the mark that takes it off every list."""
        lead_pk = {"S": lead_key(tenant_id, purchase.lead_id)}
        at = {"S": str(purchase.purchased_at)}
        sale = {
            "pk": lead_pk,
            "sk": {"S": SALE_SK},
            "tenant_id": {"S": tenant_id},
            "lead_id": {"S": purchase.lead_id},
            "exclusive": {"BOOL": True},
            "buyers": {"N": "1"},
            "buyer_id": {"S": buyer_id},
            "sold_at": at,
        }
        return [
            {"Put": {"TableName": self.leads_table, "Item": sale, "ConditionExpression": "attribute_not_exists(pk)"}},
            {
                "Update": {
                    "TableName": self.leads_table,
                    "Key": {"pk": lead_pk, "sk": {"S": SCORE_SK}},
                    "UpdateExpression": "SET sold_exclusive_at = :at",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":at": at},
                }
            },
        ]

    def _shared_sale(self, tenant_id: str, purchase: Purchase) -> dict[str, Any]:
        """One more buyer on the lead's sale record, refused when the lead was sold exclusively."""
        return {
            "Update": {
                "TableName": self.leads_table,
                "Key": {"pk": {"S": lead_key(tenant_id, purchase.lead_id)}, "sk": {"S": SALE_SK}},
                "UpdateExpression": (
                    "SET #exclusive = :no, tenant_id = :t, lead_id = :l, sold_at = if_not_exists(sold_at, :at) "
                    "ADD buyers :one"
                ),
                "ConditionExpression": "attribute_not_exists(pk) OR #exclusive = :no",
                "ExpressionAttributeNames": {"#exclusive": "exclusive"},
                "ExpressionAttributeValues": {
                    ":no": {"BOOL": False},
                    ":t": {"S": tenant_id},
                    ":l": {"S": purchase.lead_id},
                    ":at": {"S": str(purchase.purchased_at)},
                    ":one": {"N": "1"},
                },
            }
        }

    # ---------------------------------------------------------------- the tenant's rules
    def config(self, tenant_id: str) -> RecommendationConfig:
        now = time.monotonic()
        with self._lock:
            cached = self._configs.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key={"pk": {"S": config_key(tenant_id)}, "sk": {"S": CONFIG_SK}}
        )
        item = response.get("Item")
        config = RecommendationConfig.model_validate_json(item["config"]["S"]) if item else RecommendationConfig()
        with self._lock:
            self._configs[tenant_id] = (now + CONFIG_TTL_SECONDS, config)
        return config

    def put_config(self, tenant_id: str, config: RecommendationConfig) -> None:
        self.dynamodb.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": config_key(tenant_id)},
                "sk": {"S": CONFIG_SK},
                "tenant_id": {"S": tenant_id},
                "config": {"S": config.model_dump_json()},
            },
        )
        with self._lock:
            self._configs.pop(tenant_id, None)

    # ---------------------------------------------------------------- served recommendations and feedback
    def log(self, tenant_id: str, recommendations: Sequence[Recommendation]) -> None:
        """What was shown, with everything that produced it: the join key for feedback and training."""
        expires_at = int(time.time()) + SERVED_RETENTION_SECONDS
        batch_put(
            self.dynamodb,
            self.table_name,
            (
                {
                    "pk": buyer_key(tenant_id, rec.buyer_id),
                    "sk": REC_PREFIX + rec.lead_id,
                    "tenant_id": tenant_id,
                    "recommendation_id": rec.id,
                    "lead_id": rec.lead_id,
                    "recommendation": rec.model_dump_json(),
                    "expires_at": expires_at,
                }
                for rec in recommendations
            ),
        )

    def recommendation(self, tenant_id: str, buyer_id: str, lead_id: str) -> Recommendation | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": buyer_key(tenant_id, buyer_id)}, "sk": {"S": REC_PREFIX + lead_id}},
        )
        item = response.get("Item")
        return Recommendation.model_validate_json(item["recommendation"]["S"]) if item else None

    def put_feedback(
        self, tenant_id: str, buyer_id: str, lead_id: str, feedback: RecommendationFeedback, at: str
    ) -> None:
        """The latest verdict, and every verdict in `history` (a status can move: contacted, then converted)."""
        rec_id = recommendation_id(buyer_id, lead_id)
        entry = {"M": {"at": {"S": at}, "feedback": {"S": feedback.model_dump_json(exclude_none=True)}}}
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": buyer_key(tenant_id, buyer_id)}, "sk": {"S": FEEDBACK_PREFIX + rec_id}},
            UpdateExpression=(
                "SET tenant_id = :t, buyer_id = :b, lead_id = :l, recommendation_id = :r, feedback = :f, "
                "updated_at = :at, history = list_append(if_not_exists(history, :empty), :entry)"
            ),
            ExpressionAttributeValues={
                ":t": {"S": tenant_id},
                ":b": {"S": buyer_id},
                ":l": {"S": lead_id},
                ":r": {"S": rec_id},
                ":f": {"S": feedback.model_dump_json(exclude_none=True)},
                ":at": {"S": at},
                ":empty": {"L": []},
                ":entry": {"L": [entry]},
            },
        )


def _purchase_conflict(error: ClientError, buyer_id: str, purchase: Purchase) -> Conflict:
    """Which condition cancelled the purchase transaction, in the buyer's words."""
    reasons = _cancelled_by(error)
    details = {"lead_id": purchase.lead_id}
    if reasons and reasons[0] == "ConditionalCheckFailed":
        return Conflict(f"buyer {buyer_id!r} already bought lead {purchase.lead_id!r}", details)
    if purchase.exclusive:
        return Conflict(
            f"lead {purchase.lead_id!r} was already sold: an exclusive purchase needs a lead nobody has bought", details
        )
    return Conflict(f"lead {purchase.lead_id!r} is sold exclusively to another buyer", details)
