"""The operator console: Textual screens over the reconciliation engine's events."""
