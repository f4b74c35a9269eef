"""Usage events: recorded off the hot path, flushed in batches, queried for reports."""
