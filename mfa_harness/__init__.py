"""mfa-harness: the project's own shared modules (errors); the parts live in their folders."""
