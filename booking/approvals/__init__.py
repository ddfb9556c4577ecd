"""Approvals: the requests waiting for a decision, deciding them, one-tap links."""
