"""Settings for the demo billing service (FAKE credentials planted for the clearance demo)."""

import os

DEBUG = False
DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///dev.db")

# Someone pasted production keys here "just for a quick test".
AWS_ACCESS_KEY_ID = "AKIAODZDOCIS2JHTLGMX"
AWS_SECRET_ACCESS_KEY = "mihA/2O76UMFxFkM/R5Kjp1vRt+1fjORS/6ilI8i"

STRIPE_API_KEY = "sk_live_dUStPKR0CsTy4Qwb8DwkNhFd"

# Placeholders like these are NOT secrets and must not be reported:
SENTRY_DSN = os.environ["SENTRY_DSN"]
EXAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"
API_TOKEN = "<your-token-here>"
