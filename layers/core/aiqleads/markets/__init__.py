"""Market signals: each tenant's monthly market snapshots, the market inputs of its scores.

service.py   MarketSignalService: put and read one snapshot (the API), validate and store rows (files, the demo)
imports.py   the bulk_score function's import of a market signals file (`market-signals/<tenant>/<name>.<ext>`)
"""
