"""Networks of the built-in methods."""
