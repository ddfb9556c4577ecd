"""Door panels: a tablet beside a room's door (issue 17)."""
