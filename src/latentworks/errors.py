"""User-facing errors.

Anything a user can cause (bad query, missing dataset, wrong checkpoint) raises ``LatentworksError``
with a one-line message that names the problem and the fix. The CLI prints it without a traceback.
"""


class LatentworksError(Exception):
    """A problem the user can fix; ``str(err)`` is a complete one-line explanation."""


class TrainingInterrupted(LatentworksError):
    """Raised after Ctrl-C once the trainer has saved a resumable checkpoint."""
