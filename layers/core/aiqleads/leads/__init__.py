"""Leads: the use cases of one lead (ingest and score, read, interactions, outcomes, re-score on behaviour).

service.py   LeadService over small store interfaces (storage/ implements them)
consumer.py  the events function's record handler: an interaction -> aggregates, re-score, maybe an event
history.py   what a score's writer stamps on its history item (time, cause, key); history cursors
trend.py     the 7-day trend (improving, steady, declining) from a score item's recent points
"""
