"""The one switch that tells code it runs inside the book build.

The book's Sphinx extension (``book/_ext/offline_assets.py``) sets the environment
variable :data:`BOOK_BUILD_ENV` to ``"1"`` before it executes the chapters, and every
kernel it starts inherits it. Code that must behave differently in the static book asks
:func:`in_book_build`: figures are emitted as HTML only (myst-nb cannot render plotly's
JSON type), live widgets give way to static sliders, and progress bars print one line
instead of a widget that would pull a widget manager from a CDN.
"""

from __future__ import annotations

import os

__all__ = ["BOOK_BUILD_ENV", "in_book_build"]

#: Set to "1" by the book build for the kernels it starts.
BOOK_BUILD_ENV = "RNN_TUTOR_BOOK_BUILD"


def in_book_build() -> bool:
    """Whether this process runs inside the book build (``RNN_TUTOR_BOOK_BUILD=1``)."""
    return os.environ.get(BOOK_BUILD_ENV) == "1"
