"""Bookings: book, look up, list mine, cancel (/bookings/..., /api/bookings/...)."""
