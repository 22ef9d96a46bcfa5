"""Error types whose message is a single line meant for the user.

The CLI prints `error: <message>` for any `GmrlError` and exits with code 2, so a message must
name the problem and what to do about it, without a traceback.
"""


class GmrlError(Exception):
    """A user-facing problem (bad config, env, file or checkpoint) with a one-line message."""


class ConfigError(GmrlError):
    """A configuration file or override that cannot be used."""


class CheckpointError(GmrlError):
    """A checkpoint or weights file that is missing, truncated or not in gmrl's format."""


class EnvError(GmrlError):
    """A Gymnasium environment that does not exist or cannot be used with the chosen algorithm."""


class RunInterrupted(Exception):
    """Raised by a recipe after it saved a checkpoint because the user pressed Ctrl-C."""

    def __init__(self, step: int) -> None:
        super().__init__(f"interrupted after step {step}")
        self.step = step
