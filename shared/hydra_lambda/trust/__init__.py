"""Trusted issuers of the JWT bearer grant (RFC 7523 section 2.1; Ory Hydra's
``/admin/trust/grants/jwt-bearer/issuers``): ``model`` (the typed ``TrustedIssuer`` and its id),
``issuers`` (validation, create, read, list, delete, and the lookup the grant makes)."""
