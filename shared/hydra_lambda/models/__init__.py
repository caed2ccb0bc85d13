"""Wire models, field names as in the API reference: one declaration per shape.

Request bodies (clients, consent answers, the flush body) are pydantic v2 models that validate them.
Response bodies built from our own, already valid data (``OAuth2Client``, ``OAuth2ConsentRequest``,
``OAuth2TokenIntrospection``) are plain dataclasses in ``models.responses``, so the routes that
answer them never import pydantic. tests/test_openapi.py checks both kinds against openapi.yaml
(the dataclasses through pydantic's ``TypeAdapter``).
"""
