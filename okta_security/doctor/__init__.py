"""``okta-airflow doctor``: checks of settings, Okta and Airflow, each with a fix."""
