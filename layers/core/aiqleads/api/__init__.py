"""The REST API on Powertools' resolver: one Router per area, one error mapping, the tenant from the authorizer."""
