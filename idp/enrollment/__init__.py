"""The front door (issue 10): self-registration, identity proofing, company
registration and the operator review queue.

Pure logic: ``identity`` (check digits, passports, masking), ``membership`` (the
membership state machine), ``verifiers`` (the one verifier interface). Services:
``pii`` (identity documents at rest) and the wizard, verifier, review and notice
services. Views: the registration wizard and the review queue pages.
"""
