"""Prefect tasks: each loads its inputs, calls ONE component, saves or publishes. Thin."""
