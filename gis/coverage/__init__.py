"""Coverage checks, repair, assignment and statistics (see the coverage issue)."""
