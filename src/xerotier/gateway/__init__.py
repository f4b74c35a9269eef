"""The inference API: a lean ASGI handler in front of the dashboard application."""
