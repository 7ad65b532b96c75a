"""Thin argument parsing for each `polski` subcommand; the work lives in the stage modules."""
