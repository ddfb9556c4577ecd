"""iCalendar feeds: a room's (signed in) and a person's (the URL is the credential)."""
