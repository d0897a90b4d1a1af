"""Tenants and their API keys (issued once, stored as SHA-256, resolved by the authorizer)."""
