r"""Text from a data set or a rule file, made safe to show.

Bidirectional control characters (U+202E RIGHT-TO-LEFT OVERRIDE and its
relatives, the "Trojan Source" characters) are invisible but reorder the text
around them: a group named ``"\u202eytiroj am"`` displays as "majority".
Control characters (ESC, U+001B, starts the sequences that recolour or rewrite
a terminal; YAML writes it as ``"\e"``) act on whatever shows them.  A report
quotes group and column names from untrusted files, so every escaping layer
(Markdown, HTML, the SVG figures, the terminal) shows each such character as a
visible marker such as ``[U+202E]`` instead, and report.json writes it as a
``\u202e`` escape (the value is unchanged; no viewer acts on it).  Tabs and line
breaks are left to each format's own escaping.
"""

from __future__ import annotations

__all__ = ["BIDI_CONTROLS", "BIDI_JSON_ESCAPES", "CONTROL_CHARACTERS", "visible_controls"]

#: Unicode's bidirectional formatting characters (Unicode 15, UAX #9) and the implicit marks.
BIDI_CONTROLS = frozenset(
    [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
)
#: C0 and C1 control characters other than tab, line feed and carriage return.
CONTROL_CHARACTERS = frozenset([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)])
_VISIBLE = {cp: f"[U+{cp:04X}]" for cp in BIDI_CONTROLS | CONTROL_CHARACTERS}
#: ``str.translate`` table for text that is already JSON: each bidirectional or C1 control as a ``\uXXXX``
#: escape (``json.dumps`` escapes the C0 controls itself).
BIDI_JSON_ESCAPES = {cp: f"\\u{cp:04x}" for cp in BIDI_CONTROLS | frozenset(range(0x7F, 0xA0))}


def visible_controls(text: str) -> str:
    r"""Replace every bidirectional control and control character by a visible ``[U+XXXX]`` marker.

    Examples
    --------
    >>> visible_controls("group \u202eA")
    'group [U+202E]A'
    >>> visible_controls("\x1b[31mred")
    '[U+001B][31mred'
    >>> visible_controls("plain text\n")
    'plain text\n'
    """
    return text.translate(_VISIBLE)
