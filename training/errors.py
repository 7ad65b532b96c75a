"""The few exception types whose message is shown to the user as one line."""


class PolskiError(Exception):
    """An error with a user-facing, one-line message that names the fix."""


class ConfigError(PolskiError):
    pass


class DataError(PolskiError):
    pass


class CheckpointError(PolskiError):
    pass


class ExportError(PolskiError):
    pass


class ServerError(PolskiError):
    pass
