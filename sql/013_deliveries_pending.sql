-- The admins' list of pending deliveries, newest first, by index.
--
-- The list pages by id backward. Failed deliveries have their partial index
-- (deliveries_failed, sql/005); pending ones had only the worker's
-- deliveries_due, in next_attempt_at order, so a page of pending deliveries
-- was read from deliveries_pkey backward, filtering out every sent delivery
-- newer than them: thousands of rows for a page once most deliveries are
-- sent (tests/test_explain.py). The pending rows are few and churn anyway
-- (each claim already rewrites them for deliveries_due).
CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'pending';
