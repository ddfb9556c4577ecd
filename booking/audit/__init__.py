"""The audit log for admins: /admin/audit and GET /api/audit (written by triggers, sql/007)."""
