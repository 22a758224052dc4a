"""The one exception type users see: a plain sentence that says what is wrong and how to fix it."""


class VisionpathError(Exception):
    """A problem with the user's input or environment. The CLI prints its message alone, without a traceback."""


class AlreadySaid(VisionpathError):
    """An error whose sentence another process has printed already (one of the processes a launch started): the
    CLI exits with status 2 without printing it again."""
