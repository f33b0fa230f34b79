"""Organisations, memberships and per-client scope entitlements (issue 4, foundation)."""
