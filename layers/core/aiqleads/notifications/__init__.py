"""What the system announces: domain events (the events topic, then webhooks) and operational alerts."""
