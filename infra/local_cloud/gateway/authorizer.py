"""The TOKEN authorizer: its invocation, the policy it returns (evaluated against each method ARN, wildcards
included) and the cache of that policy per token for `ReauthorizeEvery` seconds."""

from __future__ import annotations

import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .responses import GatewayRefusal

Invoker = Callable[[str, Any], Any]  # (function logical id, event) -> the handler's result


@dataclass(frozen=True)
class Authorizer:
    name: str
    function_id: str
    header: str  # the identity header, e.g. x-api-key
    ttl_seconds: float  # ReauthorizeEvery (0: no cache)


def _arn_pattern(resource: str) -> re.Pattern[str]:
    """An execute-api resource ARN with `*` and `?` wildcards, as a regular expression."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resource))


class PolicyError(Exception):
    """The authorizer returned something API Gateway cannot use (AUTHORIZER_CONFIGURATION_ERROR)."""


def _statements(document: Any) -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    """The policy's execute-api:Invoke statements as (effect, resource patterns)."""
    raw = document.get("Statement") if isinstance(document, dict) else None
    raw = [raw] if isinstance(raw, dict) else raw
    if not isinstance(raw, list):
        raise PolicyError("policyDocument.Statement must be a list")
    statements = []
    for statement in raw:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(_arn_pattern(action).fullmatch("execute-api:Invoke") for action in actions):
            continue
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        effect = str(statement.get("Effect", ""))
        if effect not in {"Allow", "Deny"}:
            raise PolicyError(f"statement Effect must be Allow or Deny, got {effect!r}")
        statements.append((effect, tuple(_arn_pattern(str(item)) for item in resources)))
    return tuple(statements)


@dataclass(frozen=True)
class AuthorizerResult:
    principal_id: str
    statements: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]  # (effect, resource patterns)
    context: Mapping[str, str]
    usage_identifier_key: str | None

    @classmethod
    def parse(cls, result: Any) -> AuthorizerResult:
        if not isinstance(result, dict) or "principalId" not in result or "policyDocument" not in result:
            raise PolicyError("the authorizer must return principalId and policyDocument")
        context: dict[str, str] = {}
        for key, value in (result.get("context") or {}).items():
            if isinstance(value, dict | list):
                raise PolicyError(f"context values must be strings, numbers or booleans ({key} is not)")
            context[str(key)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        key = result.get("usageIdentifierKey")
        statements = _statements(result["policyDocument"])
        return cls(str(result["principalId"]), statements, context, None if key is None else str(key))

    def allows(self, method_arn: str) -> bool:
        """Explicit Deny wins; otherwise an Allow must match."""
        matching = [effect for effect, patterns in self.statements if any(p.fullmatch(method_arn) for p in patterns)]
        return "Deny" not in matching and "Allow" in matching


class AuthorizerCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, AuthorizerResult]] = {}
        self._lock = threading.Lock()

    def get(self, authorizer: str, token: str) -> AuthorizerResult | None:
        with self._lock:
            entry = self._entries.get((authorizer, token))
            if entry is None or entry[0] <= time.monotonic():
                self._entries.pop((authorizer, token), None)
                return None
            return entry[1]

    def put(self, authorizer: str, token: str, result: AuthorizerResult, ttl: float) -> None:
        if ttl > 0:
            with self._lock:
                self._entries[(authorizer, token)] = (time.monotonic() + ttl, result)


@dataclass(frozen=True)
class Identity:
    """Who the authorizer says the caller is."""

    context: Mapping[str, str]  # requestContext.authorizer: the policy's context and its principalId
    api_key: str | None  # usageIdentifierKey: the key its usage plan throttles


def _invoke(authorizer: Authorizer, invoke: Invoker, token: str, method_arn: str) -> AuthorizerResult:
    token_event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
    try:
        return AuthorizerResult.parse(invoke(authorizer.function_id, token_event))
    except PolicyError as error:
        print(f"local API: authorizer {authorizer.name}: {error}", file=sys.stderr)
        raise GatewayRefusal("AUTHORIZER_CONFIGURATION_ERROR") from error
    except Exception as error:
        # API Gateway answers 401 exactly when the authorizer fails with the message "Unauthorized".
        if str(error) == "Unauthorized":
            raise GatewayRefusal("UNAUTHORIZED") from error
        print(f"local API: authorizer {authorizer.name} failed:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        raise GatewayRefusal("AUTHORIZER_FAILURE") from error


def identify(
    authorizer: Authorizer, token: str | None, method_arn: str, invoke: Invoker, cache: AuthorizerCache
) -> Identity:
    """The caller's identity, or the GatewayRefusal API Gateway would answer with. A missing token is refused
    without calling the authorizer."""
    if not token:
        raise GatewayRefusal("UNAUTHORIZED")
    result = cache.get(authorizer.name, token)
    if result is None:
        result = _invoke(authorizer, invoke, token, method_arn)
        cache.put(authorizer.name, token, result, authorizer.ttl_seconds)
    if not result.allows(method_arn):
        raise GatewayRefusal("ACCESS_DENIED")
    return Identity({**result.context, "principalId": result.principal_id}, result.usage_identifier_key)
