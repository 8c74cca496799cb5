"""One exception type for every problem a user can fix (bad data, bad config).

The pipeline's scripts let it propagate; its message always names the file or the config key
and says what is wrong, so the Snakemake log shows one sentence a researcher can act on.
"""


class GafkdError(Exception):
    """A user-fixable problem with input data or configuration."""


class DataError(GafkdError):
    """An input file is missing, malformed or inconsistent."""


class ConfigError(GafkdError):
    """A configuration key is missing, misspelled or out of range."""
