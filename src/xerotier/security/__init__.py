"""Pure security primitives: no web, no database imports."""
