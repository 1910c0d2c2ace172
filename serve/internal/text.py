r"""Text people typed, made safe to show to other people.

A bidirectional control character is invisible but reorders what follows it: a note reading
`invoice_<U+202E>fdp.exe` displays as `invoice_exe.pdf`. Notes are stored as typed and shown with
each such character replaced by its code point in brackets, so a reader sees that it is there:

    >>> shown("invoice_\u202efdp.exe")
    'invoice_[U+202E]fdp.exe'
"""

from __future__ import annotations

import re

# The embeddings and overrides, the isolates, and the marks (left-to-right, right-to-left, Arabic letter).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def shown(text: str) -> str:
    """The text with each bidirectional control character written out as its code point, e.g. [U+202E]."""
    return BIDI_CONTROLS.sub(lambda found: f"[U+{ord(found.group()):04X}]", text)
