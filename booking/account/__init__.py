"""Accounts: signing in and out, /account (preferences, home building, calendar address,
API tokens) and its twin /api/me, /api/tokens."""
