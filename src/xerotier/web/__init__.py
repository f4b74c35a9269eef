"""Web plumbing shared by the dashboard and health routes."""
