"""Finding rooms: the free-room finder, automatic assignment, batch availability."""
