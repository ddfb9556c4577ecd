"""Recurring bookings: create, look at, cancel (wholly or from a date), extend."""
