"""The herd run: Locust replaying the model's arrival curve against a receiving service.

The curve (`curve`), the Locust processes (`locust_run`), the receiving side (`target`, the
embedded receiver or the inbound Postfix of `inbound`) and the run's summary (`summary`). The
Locust code itself is the package `load`, imported only where Locust runs.
"""
