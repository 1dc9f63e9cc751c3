"""Daily ``okta-airflow sync-users``: leavers deactivated, movers' roles recomputed, returners reactivated.

Copy this file into your DAGs folder. The task runs where Airflow's workers run, so they need
what the webserver has: okta_security installed, the OKTA_* settings (issuer, client, mapping
file) and Management API credentials (OKTA_API_TOKEN, or OKTA_API_CLIENT_ID +
OKTA_API_PRIVATE_KEY for an OAuth service app with okta.users.read and okta.groups.read), plus
access to Airflow's metadata database (the task writes to ab_user / ab_user_role like the webserver
does at login). See docs/user_sync.md.

The report (what changed, Okta API calls, timings) is the task's return value (XCom); the task
fails if Okta cannot be read completely, if a change fails, or if the run would deactivate more
accounts than the guard allows — then nothing is changed and someone should look
(``okta-airflow sync-users --dry-run`` shows the plan). Event hooks (docs/event_hooks.md) make
leavers instant; this daily run is the safety net that catches anything a hook missed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="okta_sync_users",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # two syncs at once would only conflict (each change is re-checked, so harmless)
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},  # Okta outages and rate limits pass
    tags=["okta", "security"],
    doc_md=__doc__,
)
def okta_sync_users() -> None:
    """Bring Airflow's accounts in line with Okta once a day."""

    @task
    def plan() -> dict:
        """Read Okta and show what would change (the plan, in the task log and XCom)."""
        from okta_security.adapter.user_sync_runner import sync_users

        report = sync_users(dry_run=True)
        print(f"okta sync-users plan: {report['summary']}")
        return report["summary"]

    @task
    def apply() -> dict:
        """Apply the changes; fails (and changes nothing) when the guard trips."""
        from okta_security.adapter.user_sync_runner import sync_users

        report = sync_users()
        print(f"okta sync-users applied: {report['summary']}")
        return report["summary"]

    plan() >> apply()


okta_sync_users()
