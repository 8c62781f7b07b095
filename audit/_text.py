r"""Text from a data set or a rule file, made safe to show.

Bidirectional control characters (U+202E RIGHT-TO-LEFT OVERRIDE and its
relatives, the "Trojan Source" characters) are invisible but reorder the text
around them: a group named ``"\u202eytiroj am"`` displays as "majority".  A
report quotes group and column names from untrusted files, so every escaping
layer (Markdown, HTML, the SVG figures, the terminal) shows each such character
as a visible marker such as ``[U+202E]`` instead, and report.json writes it as a
``\u202e`` escape (the value is unchanged; no viewer reorders the file).
"""

from __future__ import annotations

__all__ = ["BIDI_CONTROLS", "BIDI_JSON_ESCAPES", "visible_controls"]

#: Unicode's bidirectional formatting characters (Unicode 15, UAX #9) and the implicit marks.
BIDI_CONTROLS = frozenset(
    [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
)
_VISIBLE = {cp: f"[U+{cp:04X}]" for cp in BIDI_CONTROLS}
#: ``str.translate`` table: each control as a JSON ``\uXXXX`` escape (for text that is already JSON).
BIDI_JSON_ESCAPES = {cp: f"\\u{cp:04x}" for cp in BIDI_CONTROLS}


def visible_controls(text: str) -> str:
    r"""Replace every bidirectional control character by a visible ``[U+XXXX]`` marker.

    Examples
    --------
    >>> visible_controls("group \u202eA")
    'group [U+202E]A'
    >>> visible_controls("plain text")
    'plain text'
    """
    return text.translate(_VISIBLE)
