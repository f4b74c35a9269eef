"""Rate limiting behind one interface: in-process now, Redis with the scale-out issue."""
