"""The rules for every string a client sends: a length limit per kind of text, and the characters refused.

Every GraphQL string or ID input names its kind (schema/inputs.py), which checks it before any
resolver runs. Refused everywhere: C0 and C1 control characters (U+0000 among them: PostgreSQL
cannot store it) and unpaired surrogates (they have no UTF-8 encoding); free multi-line text
(message text, notes) may hold tab and newline.
"""

import re
from dataclasses import dataclass

_SINGLE_LINE_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTI_LINE_REFUSED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class TextKind:
    """`trimmed` text is stored without its surrounding whitespace, which its limit does not count."""

    max_length: int
    multiline: bool = False
    trimmed: bool = False

    def describe(self, each: bool = False) -> str:
        """The sentence the schema description gives for inputs of this kind (`each` for lists)."""
        trimmed = " after trimming surrounding whitespace" if self.trimmed else ""
        lines = " Tab and newline are allowed." if self.multiline else ""
        return f"At most {self.max_length:,} characters{' each' if each else ''}{trimmed}.{lines}"

    def refusal(self, value: str) -> str | None:
        """Why the value is refused, or None if it is acceptable."""
        if len(value) > self.max_length and (not self.trimmed or len(value.strip()) > self.max_length):
            return f"must be at most {self.max_length:,} characters"
        if (_MULTI_LINE_REFUSED if self.multiline else _SINGLE_LINE_REFUSED).search(value):
            allowed = "other than tab and newline " if self.multiline else ""
            return f"must not contain control characters {allowed}or unpaired surrogates"
        return None


MESSAGE_TEXT = TextKind(2000, multiline=True, trimmed=True)
NOTE = TextKind(1000, multiline=True, trimmed=True)  # a sample request's note, a rejection's reason
NAME = TextKind(200, trimmed=True)  # a target collaboration's name
CLIENT_KEY = TextKind(100)  # idempotency keys: clientMessageId, clientBatchId, clientRequestId
SEARCH = TextKind(100)
CATEGORY = TextKind(100)
GLOBAL_ID = TextKind(100)  # the longest real one, a Message's at the BIGINT maximum, has 36
WEBHOOK_URL = TextKind(2048, trimmed=True)
CURSOR = TextKind(200)  # the longest real one, a creator's by GMV, has about 60


class _FoldTable(dict):
    """`str.translate`'s table for `fold`, filled as characters are met (the 1.1 million code points
    would take a second to walk at import)."""

    def __missing__(self, code: int) -> int | str:
        character = chr(code)
        folded = character.casefold()
        if len(folded) != 1:  # "ß" -> "ss": keep one character, the lower case if it is one
            folded = character.lower() if len(character.lower()) == 1 else character
        self[code] = folded if folded != character else code
        return self[code]


_FOLD = _FoldTable()


def fold(value: str) -> str:
    """Text as searches compare it: each character case-folded on its own (Unicode case folding where
    it gives one character, else the lower case where that is one, else the character itself), so
    "É" finds "é" but not "e", "Σ" finds "ς", and every position is the same as in `value`."""
    return value.translate(_FOLD)
