"""Model monitoring: drift against the training baseline, live performance from outcomes, alerts."""
