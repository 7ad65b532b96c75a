"""`purple batch`: scripted prompt batches against Ollama, each record written exactly once."""
from .cli import main

__all__ = ["main"]
