"""Rescoring after a promotion: a tenant's production alias moved, so its open leads are scored again with the
new version in the background (jobs.py: the job and its submission; runner.py: the bulk_score function's run)."""
