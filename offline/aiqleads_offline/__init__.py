"""What runs only offline, never in Lambda: the synthetic lead generator, training and the `aiqleads` CLI.

The serving library (`aiqleads`) never imports this package; the Lambda core layer does not ship it.
"""
