-- Nylas v2's `response_type=token` (README.md, "Nylas v2 applications"): a sign-in flow
-- that hands the application an access token in the redirect's fragment instead of a
-- code. `code` for every other flow.
ALTER TABLE auth_flows ADD COLUMN response_type TEXT NOT NULL DEFAULT 'code';
