"""Operator console (issue 4): organisations, client scopes and the audit search."""
