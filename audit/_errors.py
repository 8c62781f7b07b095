"""The one exception type that means "the user gave us bad input".

Everything a user can get wrong (a missing column, a malformed rule file, an
unknown id in an edge list) raises :class:`AuditInputError` with a one-line
message that names the file, column or term.  The CLI prints that line and
exits with status 2; anything else escaping is a bug in the toolkit.
"""

from __future__ import annotations

import re

# numpy 2 writes scalars as np.int64(2), np.float64(0.5), np.str_('x'), np.True_: a message meant for
# a reader must say 2, 0.5, 'x', True.  Messages should use show_value; this catches any that do not.
_NUMPY_REPR = re.compile(
    r"np\.(?:u?int|float|complex|longdouble|clongdouble)\d*\(([^()]*)\)"
    r"|np\.(?:str_|bytes_)\(((?:'[^']*'|\"[^\"]*\"))\)"
    r"|np\.bool_?\((True|False)\)"
    r"|np\.(True|False)_"
)


def _plain(match: re.Match) -> str:
    return next(g for g in match.groups() if g is not None)


# Control characters other than newlines and tabs (which are folded into spaces): a file or column
# name holding ESC could recolour the user's terminal, a carriage return could overwrite the start of
# the line, and \x1f would vanish from it.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""``text`` with control characters written as ``\xNN`` escapes (line breaks and tabs kept).

    Examples
    --------
    >>> printable("a\x1b[31mb")
    'a\\x1b[31mb'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class AuditInputError(ValueError):
    """Bad input: a file, column, term or option the toolkit cannot use.

    The message is always a single line so that it can be shown as-is on a
    terminal or in a notebook.
    """

    def __init__(self, message: str) -> None:
        # Keep the contract even when a caller interpolates multi-line text
        # (a pandas error, a YAML snippet): fold it onto one line.
        super().__init__(_NUMPY_REPR.sub(_plain, " ".join(printable(str(message)).split())))


def show_value(value: object) -> str:
    """A value as it should appear in an error message: ``9`` or ``'x'``, not ``np.int64(9)``."""
    return repr(value.item() if hasattr(value, "item") else value)


class DataQualityWarning(UserWarning):
    """The data may be scored silently wrong (a literal matching nobody, a near-miss value).

    Not an error: the data or the rule may be the one at fault.  The CLI prints each on one line;
    in Python it is an ordinary warning, shown once per message.
    """
