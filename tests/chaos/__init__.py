"""Chaos: processes killed, servers stopped, and what must still hold (issue 9 item 10)."""
