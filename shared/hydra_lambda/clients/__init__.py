"""OAuth 2.0 clients: the typed client (``model``) and the registry that reads, validates and stores
them (``registry``)."""
