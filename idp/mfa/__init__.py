"""Second factors (email OTP, TOTP, WebAuthn, recovery codes) and the step-up policy."""
