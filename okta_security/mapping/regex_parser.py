"""The standard library's regular-expression parser (``sre_parse``), wherever this Python keeps it.

The index and the lint read a pattern's parse tree to find the literal text every match must
contain, and to model its language; Python 3.11 moved the parser to the private ``re._parser``.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from re import _parser as sre_parse
else:  # pragma: no cover - Python 3.10
    import sre_parse

__all__ = ["sre_parse"]
