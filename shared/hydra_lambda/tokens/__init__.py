"""Tokens, in one home: what a token is (``model``), its opaque string (``opaque``), minting and
writing every token (``issuer``), the one live-token lookup (``lookup``: presented string -> live
token), revoking (``revocation``) and ID tokens (``id_tokens``). Endpoints call these; none of these
knows an endpoint."""
