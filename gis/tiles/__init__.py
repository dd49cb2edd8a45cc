"""Vector tiles (see the maps issue)."""
