-- Sign-in throttling: failed sign-ins, per account and per address.
--
-- After SIGN_IN_MAX_FAILURES failures within SIGN_IN_WINDOW_MINUTES for one
-- email (whether or not an account has it, so the answer does not reveal
-- which emails exist) or from one address, sign-in answers 429 until the
-- oldest of those failures leaves the window. Throttled attempts are not
-- recorded, so waiting always helps. A successful sign-in forgets its
-- account's failures from its own address (someone's typos), not those from
-- elsewhere (someone else guessing). Each new failure deletes a few expired
-- rows, so the table holds about one window's worth of failures.
CREATE TABLE sign_in_failures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email_key text NOT NULL,                  -- lower(email) as typed, at most 254 characters
    address   text NOT NULL,                  -- the client address (see TRUSTED_PROXIES)
    failed_at timestamptz NOT NULL
);

-- The throttle check: the newest failures of one email, of one address.
CREATE INDEX sign_in_failures_email ON sign_in_failures (email_key, failed_at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, failed_at);
-- Expired rows, oldest first, for the clean-up that rides along with each failure.
CREATE INDEX sign_in_failures_failed_at ON sign_in_failures (failed_at);
