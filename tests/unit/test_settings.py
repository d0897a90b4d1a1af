"""Each function's settings model: clear errors, read once per process, and in step with template.yaml."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aiqleads.models import Tier
from aiqleads.process_cache import reset
from aiqleads.settings import (
    FUNCTION_SETTINGS,
    ApiSettings,
    AuthorizerSettings,
    EventsSettings,
    NotifySettings,
    SettingsError,
)
from infra.local_cloud.functions import FunctionSpec, discover_functions
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]

# Variables the template sets that no settings model reads, and who reads them instead.
READ_ELSEWHERE = {
    "POWERTOOLS_SERVICE_NAME": "Powertools Logger",
    "POWERTOOLS_METRICS_NAMESPACE": "Powertools Metrics, when a function publishes any",
    "LOG_LEVEL": "Powertools Logger",
    "AIQLEADS_MODEL_DIR": "scoring/artifact.py's model locator (shared with the offline CLI)",
    "MODEL_VERSION": "nobody: it documents the version AIQLEADS_MODEL_DIR points at",
}

RATES = '{"basic": 1, "pro": 5, "enterprise": 16.67}'


@pytest.fixture(scope="module")
def functions() -> dict[str, FunctionSpec]:
    specs = discover_functions(load_template(ROOT / "template.yaml"), ROOT)
    return {spec.code_uri.name: spec for spec in specs.values()}


def test_a_missing_variable_is_named() -> None:
    with pytest.raises(
        SettingsError, match=r"^AuthorizerSettings: missing environment variables: API_KEYS_TABLE, TIER_RATE_LIMITS$"
    ):
        AuthorizerSettings.from_env({})
    with pytest.raises(SettingsError, match=r"missing environment variables: API_KEYS_TABLE$"):
        AuthorizerSettings.from_env({"API_KEYS_TABLE": "  ", "TIER_RATE_LIMITS": RATES})  # empty counts as unset


def test_tier_rates_must_name_every_tier_with_a_positive_rate() -> None:
    settings = AuthorizerSettings.from_env({"API_KEYS_TABLE": "keys", "TIER_RATE_LIMITS": RATES})
    assert settings.requests_per_minute == {Tier.BASIC: 60, Tier.PRO: 300, Tier.ENTERPRISE: 1000}
    for rates, problem in [('{"basic": 1, "pro": 5}', "no rate for enterprise"), ("{oops", "Invalid JSON")]:
        with pytest.raises(SettingsError, match=f"invalid environment variables: TIER_RATE_LIMITS=.*{problem}"):
            AuthorizerSettings.from_env({"API_KEYS_TABLE": "keys", "TIER_RATE_LIMITS": rates})
    with pytest.raises(SettingsError, match="greater than 0"):
        AuthorizerSettings.from_env(
            {"API_KEYS_TABLE": "keys", "TIER_RATE_LIMITS": '{"basic": 0, "pro": 5, "enterprise": 16.67}'}
        )


def test_every_missing_and_invalid_variable_is_named_at_once() -> None:
    environ = {
        "LEADS_TABLE": "leads",
        "AGGREGATES_TABLE": "aggregates",
        "IDEMPOTENCY_TABLE": "idempotency",
        "IDEMPOTENCY_EXPIRES_AFTER": "19d",
        "MODELS_TABLE": "models",
        "MODELS_BUCKET": "models-bucket",
    }
    with pytest.raises(SettingsError) as missing:
        EventsSettings.from_env(environ)
    assert str(missing.value) == ("EventsSettings: missing environment variables: MARKET_SIGNALS_TABLE, OUTBOX_TABLE")
    notify = {"BUYERS_TABLE": "b", "NOTIFY_QUEUE_URL": "q", "WEBHOOK_TIMEOUT": "2m", "WEBHOOK_RETRY_SCHEDULE": "soon"}
    with pytest.raises(SettingsError) as invalid:
        NotifySettings.from_env(notify)
    message = str(invalid.value)
    assert "missing environment variables: NOTIFY_DEAD_LETTER_QUEUE_URL, ALERTS_TOPIC_ARN" in message
    assert "WEBHOOK_TIMEOUT='2m' (Input should be less than or equal to 60)" in message
    assert "WEBHOOK_RETRY_SCHEDULE='soon'" in message


def test_values_are_typed_and_the_webhook_policy_keeps_its_defaults() -> None:
    environ = {name: "x" for name, required in ApiSettings.variables().items() if required}
    environ["GRAPHQL_COST_BUDGETS"] = json.dumps({tier: {"maximumAvailable": 10, "restoreRate": 1} for tier in Tier})
    settings = ApiSettings.from_env({**environ, "CANDIDATE_CACHE_SECONDS": "2.5", "WEBHOOK_ROTATION_GRACE": "1h"})
    assert settings.candidate_cache_seconds == 2.5
    assert settings.webhooks.rotation_grace_seconds == 3600
    assert settings.webhooks.timeout_seconds == 15  # the policy's default: the API's template sets no timeout
    assert ApiSettings.from_env(environ).candidate_cache_seconds == 10
    assert ApiSettings.from_env(environ).model_alias_ttl_seconds == 60  # template.yaml's ModelAliasTtlSeconds
    assert ApiSettings.from_env({**environ, "MODEL_ALIAS_TTL_SECONDS": "0"}).model_alias_ttl_seconds == 0


def test_settings_are_read_once_per_process_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEYS_TABLE", "first")
    monkeypatch.setenv("TIER_RATE_LIMITS", RATES)
    reset()
    assert AuthorizerSettings.current().api_keys_table == "first"
    monkeypatch.setenv("API_KEYS_TABLE", "second")
    assert AuthorizerSettings.current().api_keys_table == "first"  # a warm process keeps its configuration
    reset()  # what the local cloud does when it changes the environment
    assert AuthorizerSettings.current().api_keys_table == "second"
    monkeypatch.delenv("API_KEYS_TABLE")
    reset()
    with pytest.raises(SettingsError, match="API_KEYS_TABLE"):
        AuthorizerSettings.current()
    reset()


def test_every_function_has_a_settings_model(functions: dict[str, FunctionSpec]) -> None:
    assert sorted(functions) == sorted(FUNCTION_SETTINGS)


def test_the_template_sets_every_variable_a_function_requires(functions: dict[str, FunctionSpec]) -> None:
    for name, spec in functions.items():
        required = {variable for variable, needed in FUNCTION_SETTINGS[name].variables().items() if needed}
        assert required - set(spec.environment) == set(), f"template.yaml does not set these for {name}"


def test_every_variable_the_template_sets_is_read(functions: dict[str, FunctionSpec]) -> None:
    """Globals are set for every function, so some function must read each; a function's own variables, itself."""
    resources = load_template(ROOT / "template.yaml")["Resources"]
    read_by_any = {variable for model in FUNCTION_SETTINGS.values() for variable in model.variables()}
    for name, spec in functions.items():
        assert set(spec.environment) - read_by_any - set(READ_ELSEWHERE) == set(), f"{name}: nobody reads these"
        own = resources[spec.logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        assert set(own) - set(FUNCTION_SETTINGS[name].variables()) - set(READ_ELSEWHERE) == set(), (
            f"{name} does not read these"
        )


def test_the_template_names_every_function_s_logger(functions: dict[str, FunctionSpec]) -> None:
    """The handlers' Logger() and the metrics' service dimension take the function's name from
    POWERTOOLS_SERVICE_NAME (no name in the code): functions/<name>/ is service <name>."""
    for name, spec in functions.items():
        assert spec.environment.get("POWERTOOLS_SERVICE_NAME") == spec.code_uri.name == name, name


def test_no_code_names_its_service_or_namespace() -> None:
    """Logger, Metrics and Tracer read the service (and the namespace) from the environment, so one template
    variable names a function everywhere: in its log records, its metrics' dimension and its traces."""
    pattern = re.compile(r"\b(Logger|Metrics|Tracer)\([^)]*\b(service|namespace)=")
    sources = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers" / "core" / "aiqleads").rglob("*.py")]
    named = [str(path.relative_to(ROOT)) for path in sources if pattern.search(path.read_text())]
    assert named == []
