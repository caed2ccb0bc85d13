"""openapi.yaml is valid OpenAPI 3.1 and cannot drift from template.yaml, the handlers or the wire models."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from functools import cache
from typing import Any

import pytest
import yaml
from hydra_lambda_local.routes import load_routes
from openapi_spec_validator import validate
from pydantic import TypeAdapter

from tests.support import ROOT, TEMPLATE, call

OPENAPI = ROOT / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Methods a handler may answer without documenting them (CORS preflight, HEAD of a GET).
UNDOCUMENTED_OK = {"OPTIONS", "HEAD"}
# Documented paths whose routes are still being built (none: every documented path must be routed).
NOT_YET_ROUTED: frozenset[str] = frozenset()
# Wire models whose schema has another name than the class.
MODEL_SCHEMAS = {"ClientBody": "OAuth2ClientBody", "AcceptOAuth2LoginRequest": "acceptOAuth2LoginRequest",
                 "AcceptOAuth2ConsentRequest": "acceptOAuth2ConsentRequest",
                 "AcceptOAuth2ConsentRequestSession": "acceptOAuth2ConsentRequestSession",
                 "RejectOAuth2Request": "rejectOAuth2Request", "RedirectTo": "oAuth2RedirectTo",
                 "LoginRequest": "oAuth2LoginRequest", "ConsentRequest": "oAuth2ConsentRequest",
                 "ConsentSession": "oAuth2ConsentSession", "AdminOAuth2Client": "oAuth2Client",
                 "AdminClientBody": "oAuth2Client", "OAuth2ClientTokenLifespans": "oAuth2ClientTokenLifespans",
                 "IntrospectedOAuth2Token": "introspectedOAuth2Token",
                 "TrustOAuth2JwtGrantIssuer": "trustOAuth2JwtGrantIssuer",
                 "TrustedOAuth2JwtGrantIssuer": "trustedOAuth2JwtGrantIssuer",
                 "TrustedOAuth2JwtGrantJsonWebKey": "trustedOAuth2JwtGrantJsonWebKey",
                 "CreateJsonWebKeySet": "createJsonWebKeySet", "JsonWebKey": "jsonWebKey",
                 "JsonWebKeySet": "jsonWebKeySet", "DeviceAuthorization": "deviceAuthorization",
                 "AcceptDeviceUserCodeRequest": "acceptDeviceUserCodeRequest"}


@cache
def spec() -> dict[str, Any]:
    with OPENAPI.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _normal(path: str) -> str:
    """Path parameters by position only: /clients/{id} and /clients/{client_id} are one path."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def documented() -> dict[str, set[str]]:
    """Normalised path -> upper-case methods in openapi.yaml."""
    return {_normal(p): {m.upper() for m in item if m in HTTP_METHODS} for p, item in spec()["paths"].items()}


def test_openapi_document_is_valid_openapi_3_1() -> None:
    document = spec()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_template_route_is_documented() -> None:
    paths = documented()
    missing = []
    for route in load_routes(TEMPLATE):
        if route.path == "$default":
            continue
        methods = paths.get(_normal(route.path))
        if methods is None or (route.method != "ANY" and route.method not in methods):
            missing.append(f"{route.method} {route.path} ({route.function})")
    assert not missing, f"routes in template.yaml missing from openapi.yaml: {missing}"


def test_undeclared_method_answers_405_with_allow_in_the_admin_shape() -> None:
    result = call("DELETE", "/health/status")
    assert result.status == 405
    assert result.headers["allow"] == "GET"
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["error"]["code"] == 405


def _wire_models() -> list[type]:
    """Every wire shape: the pydantic request models and the plain dataclasses of the responses."""
    import hydra_lambda.models as package
    from pydantic import BaseModel

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"hydra_lambda.models.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ != module.__name__:
                continue
            if (issubclass(obj, BaseModel) and obj is not BaseModel) or dataclasses.is_dataclass(obj):
                found.append(obj)
    return found


def _wire_fields(model: Any) -> set[str]:
    if dataclasses.is_dataclass(model):
        return {field.name for field in dataclasses.fields(model)}
    return {field.serialization_alias or field.alias or name for name, field in model.model_fields.items()}


def _json_schema(model: Any) -> dict[str, Any]:
    """The model's JSON schema; a dataclass's through pydantic's TypeAdapter (pydantic in the tests only)."""
    if dataclasses.is_dataclass(model):
        return TypeAdapter(model).json_schema(mode="serialization")
    return model.model_json_schema(by_alias=True, mode="serialization")


def _schema_for(model: type, fields: set[str]) -> tuple[str, dict[str, Any]] | None:
    schemas = spec()["components"]["schemas"]
    name = MODEL_SCHEMAS.get(model.__name__, model.__name__)
    if name in schemas:
        return name, schemas[name]
    candidates = [(n, s) for n, s in schemas.items() if fields and fields <= set(s.get("properties", {}))]
    return candidates[0] if len(candidates) == 1 else None


@pytest.mark.parametrize("model", _wire_models(), ids=lambda m: f"{m.__module__.rsplit('.', 1)[-1]}.{m.__name__}")
def test_wire_model_fields_match_the_schema(model: Any) -> None:
    fields = _wire_fields(model)
    found = _schema_for(model, fields)
    assert found is not None, (
        f"no schema in openapi.yaml is named {model.__name__} or uniquely holds its fields {sorted(fields)}; "
        "add it (or map it in MODEL_SCHEMAS)"
    )
    name, schema = found
    properties = set(schema.get("properties", {}))
    missing = sorted(fields - properties)
    assert not missing, f"{model.__name__} has fields missing from schema {name}: {missing}"
    required = set(schema.get("required", []))
    assert required <= fields, f"schema {name} requires fields {model.__name__} lacks: {sorted(required - fields)}"
    model_schema = _json_schema(model)["properties"]
    for field in sorted(fields):
        ours = _types(model_schema[field]) - {"null"}
        documented = _types(schema["properties"][field])
        if ours and documented:
            widened = documented | ({"integer"} if "number" in documented else set())
            assert ours <= widened, f"{model.__name__}.{field} is {sorted(ours)}, {name} documents {sorted(documented)}"


def test_every_response_shape_is_declared_once_and_documented_whole() -> None:
    """The three response dataclasses are the one declaration of their schema: openapi.yaml documents
    every field of each (the client and consent request exactly; introspection also lists RFC 7662's
    ``username`` and ``nbf``, which we never send), and nothing else in the package declares them."""
    from hydra_lambda.models import responses

    shapes = [responses.OAuth2Client, responses.OAuth2ConsentRequest, responses.OAuth2TokenIntrospection]
    schemas = spec()["components"]["schemas"]
    never_sent = {"OAuth2TokenIntrospection": {"username", "nbf"}}
    for shape in shapes:
        documented = set(schemas[shape.__name__]["properties"]) - never_sent.get(shape.__name__, set())
        assert documented == _wire_fields(shape), shape.__name__
    names = [model.__name__ for model in _wire_models()]
    assert all(names.count(shape.__name__) == 1 for shape in shapes), names


def _types(node: dict[str, Any]) -> set[str]:
    """The JSON types a (pydantic or OpenAPI) schema node allows; empty when it does not say."""
    if "$ref" in node:
        return {"object"}
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    out: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for option in node.get(key, []):
            found = _types(option)
            if not found:
                return set()
            out |= found
    return out


def test_client_schema_keeps_the_classic_field_names() -> None:
    client = spec()["components"]["schemas"]["OAuth2Client"]["properties"]
    for field in ("id", "client_id", "client_name", "client_secret", "redirect_uris", "grant_types",
                  "response_types", "scope", "owner", "policy_uri", "tos_uri", "client_uri", "logo_uri",
                  "contacts", "public", "created_at", "updated_at"):
        assert field in client
    consent = spec()["components"]["schemas"]["OAuth2ConsentRequest"]["properties"]
    assert set(consent) == {"id", "clientId", "requestedScopes", "redirectUrl", "expiresAt", "requestedPrompt",
                            "requestedMaxAge", "requestedAcr", "loginHint", "uiLocales", "display", "idTokenHintClaims",
                            "requestedClaims"}
    from hydra_lambda.models.consent import ConsentRequestAcceptance
    from hydra_lambda.models.responses import OAuth2ConsentRequest

    assert set(consent) == _wire_fields(OAuth2ConsentRequest)
    acceptance = spec()["components"]["schemas"]["ConsentRequestAcceptance"]
    assert set(acceptance["properties"]) == set(ConsentRequestAcceptance.model_fields)
    assert acceptance["additionalProperties"] is False


def test_flush_documents_how_not_after_differs_from_classic_hydra() -> None:
    # Classic Hydra removed expired access tokens *issued* before notAfter; here rows that *expired*
    # before it. The mechanics stay; the difference is stated where a client reads about notAfter.
    operation = spec()["paths"]["/oauth2/flush"]["post"]
    assert "expired before" in operation["description"] and "issued** before" in operation["description"]
    field = spec()["components"]["schemas"]["FlushInactiveOAuth2TokensRequest"]["properties"]["notAfter"]
    assert "expired before" in field["description"] and "issued before" in field["description"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    flush = readme[readme.index("- **Flush**"):]
    flush = flush[:flush.index("\n- **")]
    assert "**expiry**" in flush and "**issued**" in flush
