"""``/oauth2/auth`` (RFC 6749 section 4, OpenID Connect Core 3), without HTTP: the edge
(``hydra_lambda.http.authorization``) parses the request into an :class:`~.outcomes.AuthorizationCall`,
:func:`hydra_lambda.endpoints.auth.serve` runs it, and the edge renders the :data:`~.outcomes.Outcome` it returns.

- ``request``: the typed :class:`~.request.AuthorizeRequest` and its ordered, named checks.
- ``consent_legs``: the first leg (to the consent app) and the second leg (binding checks, one-time
  consumption, issuing).
- ``outcomes``: what the endpoint answers (an error page, the way to the consent app, or the
  authorization response for the client).
"""
