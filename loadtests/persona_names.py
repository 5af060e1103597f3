"""The persona names, importable without Locust or gevent (the scenario parser checks a
scenario's `[personas]` against them before anything starts; personas.py checks it defines
exactly these)."""

PERSONA_NAMES = (
    "careful", "hasty", "reseller", "affiliate", "patient", "impatient", "spam-checker", "slow-typer",
    "typo-prone", "second-tab", "cookie-less", "resend-stormer", "code-guesser", "forgot-password",
    "direct-url", "double-submit", "resend-mixer", "replayer", "session-reuser", "protected-visitor",
)
