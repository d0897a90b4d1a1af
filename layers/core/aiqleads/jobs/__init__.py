"""Background jobs (bulk uploads, recommendation jobs): the store protocol they share."""
