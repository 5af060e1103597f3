"""Local SMTP inbox with a Mailpit-compatible HTTP API and fault injection."""
