"""Workflows: one duty from the rules each; readings in, records, alarms and feedback out."""
