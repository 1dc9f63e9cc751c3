"""Another team's DAG: in the demo, Admin, Op, User and Viewer see it; role team-finance does not.

Sign in as erin.finance (or call the API as the ``demo-bot`` client) and this DAG is absent;
sign in as bob.viewer and it is there. Which DAGs a team role reaches is set in the mapping file's
``roles:`` section (docs/mapping-cookbook.md).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task


@dag(
    dag_id="marketing_weekly",
    schedule="@weekly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["demo", "marketing"],
    doc_md=__doc__,
)
def marketing_weekly() -> None:
    """Count last week's campaign sign-ups."""

    @task
    def signups() -> int:
        """Return the week's sign-ups (here: a fixed number)."""
        count = 42
        print(f"marketing_weekly sign-ups: {count}")
        return count

    signups()


marketing_weekly()
