"""People, as admins manage them: /admin/users and /api/users (deactivate, reactivate)."""
