"""Prefect flows: one per file, each runnable as a script (``python flows/<name>.py``)."""
