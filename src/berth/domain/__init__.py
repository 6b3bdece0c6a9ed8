"""Pure booking logic: no I/O, no framework, no clock reads (time is always a parameter)."""
