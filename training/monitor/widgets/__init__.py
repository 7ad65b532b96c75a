"""Dashboard widgets: each shows one thing and is fed plain data by the app."""
