"""Reference partner portal (Tornado) with email-code MFA."""
