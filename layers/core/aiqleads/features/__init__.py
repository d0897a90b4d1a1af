"""Features: the declarative spec and its two builders (one record, columnar batches)."""
