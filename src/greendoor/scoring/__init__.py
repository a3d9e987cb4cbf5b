"""Scoring: features as of a date, the health score, churn/renewal/expansion models with
their skill against baselines, drivers, alerts, and the batch run that stores snapshots."""
