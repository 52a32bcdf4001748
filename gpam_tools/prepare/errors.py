"""The user-facing error of the data-prep helpers."""


class PrepError(Exception):
    """A problem with the user's input or environment.

    The message names the problem and the fix; ``cli.main`` prints it as ``ERROR: ...`` and
    exits with status 2, without a traceback.
    """
