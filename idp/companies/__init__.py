"""Company self-registration (issue 10, MISSION A1)."""
