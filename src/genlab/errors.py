"""Errors a user can cause. The CLI prints them on one line and exits with code 2; warnings
(DataWarning) as one line each."""


class GenlabError(Exception):
    """Base class: the message must say what went wrong and what to do."""


class ConfigError(GenlabError):
    """A config file, override or option is invalid."""


class DataError(GenlabError):
    """A dataset is missing, unreadable or unsuitable."""


class RunError(GenlabError):
    """A run folder is missing or not a genlab run."""


class CheckpointError(GenlabError):
    """A checkpoint is missing, corrupt or incompatible with the config."""


class EvalError(GenlabError):
    """Evaluation cannot run: a missing judge or weights file, too few samples."""


class TrainingError(GenlabError):
    """Training cannot go on (a NaN loss, a full disk); the last good checkpoint is kept."""


class DataWarning(UserWarning):
    """Something in the user's data was skipped, ignored or converted, but loading went on.
    It lives here, beside DataError, so that `images` (below `data`) can give it too."""
