"""Allow ``python -m okta_security.cli``."""

from __future__ import annotations

import sys

from okta_security.cli import main

sys.exit(main())
