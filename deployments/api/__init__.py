"""The HTTP API (``quantum-trader api``): routes, auth, the live dashboard."""
