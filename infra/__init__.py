"""Infrastructure helpers: reading and checking template.yaml (template), the Lambda artifacts (packaging) and the
local cloud built from the template (local_cloud)."""
