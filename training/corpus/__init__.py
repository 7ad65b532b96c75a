"""`polski corpus build`: read, clean, filter, dedup, split and shard raw Polish text."""
