"""Tenant onboarding on the command line (`aiqleads tenants ...`, `aiqleads keys ...`), against a deployed stack
(`--stack NAME`) or the running local cloud (`.aiqleads/local.json`), through `aiqleads.tenants.service`."""
