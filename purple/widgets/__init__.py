"""Purple's widgets: each one small and ignorant of the store and the client."""
