"""Text from an unauthenticated request is bounded and cannot forge log lines (real api-server).

The callback audits a refusal before any state check, so whatever a stranger puts in ``error``
and ``error_description`` reaches the redaction, the plain log and the Audit Log: each must stay
cheap and bounded, and a line break must stay inside its own log line.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import requests

from tests.integration.test_audit import RefusalTally

if TYPE_CHECKING:
    from tests.conftest import Stack

CALLBACK = "/auth/oauth-authorized/okta"


def test_a_huge_error_parameter_is_cheap_and_recorded_bounded(af: Stack):
    """A 63 KB `error` of "eyJ" repeated used to hold a worker for seconds in the audit redaction."""
    # Its cost is measured by bench/bench_redaction.py (and bounded by a unit test that counts work).
    tally = RefusalTally(af.db_url, "login.refused")
    hostile = "eyJ" * 21_000
    response = requests.get(f"{af.url}{CALLBACK}", params={"error": hostile, "error_description": "x"}, timeout=60)
    assert response.status_code == 403
    assert "eyJ" * 30 not in response.text  # the page shows a bounded error code
    rows = tally.wait(1)
    assert rows
    assert all(len(str(row["extra"].get("okta_error", ""))) <= 64 for row in rows)
    assert all(len(str(row["extra"])) < 4000 for row in rows)


def test_a_line_break_in_error_description_cannot_forge_a_log_line(af: Stack):
    marker = f"FORGED-{uuid.uuid4().hex[:8]}"
    forged = f"denied\n{marker} INFO okta_security.adapter.views: Okta login of admin succeeded\r\n{marker}"
    response = requests.get(
        f"{af.url}{CALLBACK}", params={"error": "access_denied", "error_description": forged}, timeout=30
    )
    assert response.status_code == 403
    deadline = time.monotonic() + 10
    while marker not in af.airflow.log_tail(200_000) and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = af.airflow.log_tail(200_000).splitlines()
    assert any(marker in line for line in lines), "the refusal was not logged at all"
    forged_lines = [line for line in lines if line.startswith(marker)]
    assert not forged_lines, f"a forged log line: {forged_lines[0]!r}"
    assert any(f"denied\\x0a{marker}" in line for line in lines)  # the break is shown, escaped
