"""Quantum Trader building blocks: plain Python, no Prefect import anywhere in here."""
