"""Errors a user can act on: each message names what is wrong and how to fix it."""


class ForecastError(ValueError):
    """Base class for errors caused by user input (data, configuration, environment)."""


class DataError(ForecastError):
    """The input data cannot be used as given (missing column, NaN, gaps, too short ...)."""


class ConfigError(ForecastError):
    """A configuration value is out of range or inconsistent with the data."""
