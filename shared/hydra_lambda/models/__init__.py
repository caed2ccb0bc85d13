"""Wire models (pydantic v2): request and response bodies, field names as in the API reference."""
