"""Development stack for the demo and the tests: a real Airflow API server beside the local IdP.

Not shipped with okta_security (see pyproject's package list).
"""
