"""The finance team's daily report: in the demo, role team-finance sees, pauses and triggers this DAG only.

The demo's mapping (examples/demo/role_mapping.yaml) declares ``team-finance`` with DAG-level
access to ``finance_daily``; erin.finance (Okta group airflow-team-finance) and the ``demo-bot``
client get that role, so they see this DAG and not ``marketing_weekly``.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task


@dag(
    dag_id="finance_daily",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["demo", "finance"],
    doc_md=__doc__,
)
def finance_daily() -> None:
    """Add up yesterday's ledger and publish the total."""

    @task
    def ledger() -> list[int]:
        """Read the ledger (here: three fixed entries)."""
        return [120, -45, 310]

    @task
    def publish(entries: list[int]) -> int:
        """Print and return the day's total."""
        total = sum(entries)
        print(f"finance_daily total: {total}")
        return total

    publish(ledger())


finance_daily()
