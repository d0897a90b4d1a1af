"""Recommendations: which leads each buyer should see, in which order, why, and what to do next.

card.py      the few lead attributes ranking needs, stored on each score item (the ScoreIndex carries them)
config.py    the tenant's rules as data (tiers, fraud threshold, freshness, fit, diversity, pool size)
ranking.py   one candidate for one buyer -> eligibility and a rank score (pure functions)
engine.py    each market's best candidates from the score index, diversity pages, opaque cursors
insights.py  reasons in words and next-best actions with a priority
service.py   the use cases over store interfaces (storage/ implements them)
"""
