"""Rooms: the overview, a room's day and week, availability, and the admins' create and edit."""
