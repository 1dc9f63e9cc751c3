"""The one place that imports Flask, Flask-AppBuilder, Airflow or SQLAlchemy: wiring pure logic to the host."""
