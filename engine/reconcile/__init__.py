"""Reconciliation: fetch and validate a snapshot, diff it, plan, and execute the plan by phase."""
