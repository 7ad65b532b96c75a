"""`polski monitor` (Textual dashboard over RUN_DIR/metrics.jsonl) and the reader it shares with `polski report`."""
