"""Accounts: passwords, login, lockout, server-side sessions, consents."""
