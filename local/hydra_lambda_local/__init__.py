"""Running the real handlers on a laptop: template-driven routing, API Gateway events, embedded AWS."""
