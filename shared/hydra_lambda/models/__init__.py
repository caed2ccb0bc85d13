"""Wire models (pydantic v2): request and response bodies, field names as in the API reference.

They are the declared schemas (tests/test_openapi.py checks openapi.yaml against them) and validate
the request bodies (clients, consent answers, the flush body). Responses go through their
pydantic-free twins in ``models.plain``, so read routes never import pydantic.
"""
