"""Orchestration: the only package that imports every domain package.

The flows (connect → land → judge → stage → sync), the `hub` CLI composition, the demo and local
Airflow. `dags/` imports only this package; nothing below imports it (pyproject's importlinter contract).
"""
