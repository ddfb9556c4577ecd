"""Areas (sites, buildings, ...) that group rooms and carry policies; groups of people."""
