"""The one exception type that means "the user gave us bad input".

Everything a user can get wrong (a missing column, a malformed rule file, an
unknown id in an edge list) raises :class:`AuditInputError` with a one-line
message that names the file, column or term.  The CLI prints that line and
exits with status 2; anything else escaping is a bug in the toolkit.
"""

from __future__ import annotations


class AuditInputError(ValueError):
    """Bad input: a file, column, term or option the toolkit cannot use.

    The message is always a single line so that it can be shown as-is on a
    terminal or in a notebook.
    """

    def __init__(self, message: str) -> None:
        # Keep the contract even when a caller interpolates multi-line text
        # (a pandas error, a YAML snippet): fold it onto one line.
        super().__init__(" ".join(str(message).split()))


def show_value(value: object) -> str:
    """A value as it should appear in an error message: ``9`` or ``'x'``, not ``np.int64(9)``."""
    return repr(value.item() if hasattr(value, "item") else value)
