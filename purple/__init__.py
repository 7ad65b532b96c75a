"""Purple: a terminal chat app for Polish conversations with local Ollama models."""

__version__ = "0.1.0"
