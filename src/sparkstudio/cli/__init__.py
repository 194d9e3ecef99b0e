"""The ``sparkstudio`` command."""
