"""Exception and warning types shared by every layer of clvmodels.

Every error a user can cause derives from :class:`CLVError`, itself a
:class:`ValueError`, so ``except ValueError`` keeps working and the command
line can tell a user's mistake (exit status 2) from a bug (exit status 1).
Warnings have their own categories so they can be filtered precisely.
"""

from __future__ import annotations

__all__ = [
    "CLVError",
    "InvalidTransactionsError",
    "InvalidSummaryError",
    "InvalidFunnelEventsError",
    "InputFileError",
    "OutputFileError",
    "InvalidParameterError",
    "InvalidCustomerDataError",
    "NotFittedError",
    "ModelFileError",
    "UnitMismatchError",
    "CLVWarning",
    "ConvergenceWarning",
    "ExcludedCustomersWarning",
    "StatisticalWarning",
    "InputConversionWarning",
    "HessianWarning",
]


class CLVError(ValueError):
    """Base class of the errors a user of clvmodels can cause (bad input, wrong call)."""


class InvalidTransactionsError(CLVError):
    """A transaction log has a missing column, bad values, or inconsistent dates.

    ``problems`` holds one message per problem found (all problems are
    collected before raising, so a user fixes them in one pass).
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


class InvalidFunnelEventsError(CLVError):
    """A sales-funnel event log (lead, stage, date) has unknown stages, or leads whose events
    go backwards, skip a stage, repeat, or come after the lead was lost.

    ``problems`` holds one message per problem found (all are collected before raising);
    each names the leads and the 0-based rows of the input.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


class InvalidSummaryError(CLVError):
    """A customer summary (frequency, recency, T, ...) is missing columns or has invalid values."""


class InputFileError(CLVError):
    """An input file cannot be read as a table: missing, a directory, empty, not the format
    it claims, truncated, not UTF-8, a duplicated column name, or rows with the wrong number
    of fields. The message names the file, and the line or byte where it can."""


class OutputFileError(CLVError):
    """An output cannot be written safely: it would overwrite an input or another output of
    the same run, its directory is missing or not writable, or its name has no known format."""


class InvalidParameterError(CLVError):
    """A model parameter or function argument is outside its valid range."""


class InvalidCustomerDataError(InvalidSummaryError, InvalidParameterError):
    """A customer's data are impossible: ``recency > T``, a negative or non-finite count or time.

    One class for this condition wherever it is found, in a summary given to an estimator
    or in the arrays given to a model's pure functions; it is both an
    :class:`InvalidSummaryError` and an :class:`InvalidParameterError`, so handlers of
    either catch it.
    """


class NotFittedError(CLVError, AttributeError):
    """A model was used before ``fit`` (or ``from_params``) gave it parameters."""


class ModelFileError(CLVError):
    """A saved model file is unreadable, of an unknown version, or fails validation."""


class UnitMismatchError(CLVError):
    """Two objects that must share a time unit (a model and a summary, say) do not."""


class CLVWarning(UserWarning):
    """Base class of the warnings clvmodels issues."""


class ConvergenceWarning(CLVWarning):
    """The optimiser did not converge; the message says which parameter and why."""


class ExcludedCustomersWarning(CLVWarning):
    """Some customers were left out of a result; the message says how many and why."""


class StatisticalWarning(CLVWarning):
    """A statistical assumption looks violated, or a result is numerically doubtful."""


class InputConversionWarning(CLVWarning):
    """The reader converted something a user should know about: a UTF-16/32 file decoded,
    compression found by content, UTC offsets or time zones dropped from dates."""


class HessianWarning(StatisticalWarning):
    """The Hessian at the optimum is not positive definite: no standard errors."""
