"""Users and (with the dashboard) identities, sessions and 2FA."""
