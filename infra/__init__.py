"""Infrastructure helpers: reading and checking template.yaml (and, later, the local cloud built from it)."""
