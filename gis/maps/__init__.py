"""Map pages and printable boards."""
