"""Evaluation pieces behind `polski eval` / `polski inspect`: backends, BPB, minimal pairs, samples."""
