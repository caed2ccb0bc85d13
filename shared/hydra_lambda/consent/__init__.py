"""Consent requests: the typed request (``model``) and its life, from creation by the first leg of
``/oauth2/auth`` to its answer (``requests``)."""
