"""How flows run: the serve entry, automations, and the ``quantum-trader`` command line."""
