"""The endpoints wing: one module per route group, named after its routes in template.yaml (``/oauth2/
token`` is ``token``, ``/warden/groups`` is ``warden_groups``, ``/.well-known/*`` is ``well_known``).

Each says who may call (the warden), what they sent and what they get back (the wire shapes), and
leaves the rest to the concepts (``clients``, ``consent``, ``tokens``, ``grants``, ``policies``...),
which never import this package. Entry points are named after the operation: a route group of one
operation exposes ``serve``; a resource exposes its verbs (``page``, ``get``, ``create``,
``update``, ``delete``, ...). Endpoint modules do not import each other.
"""
