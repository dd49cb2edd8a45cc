"""Balanced grid partition (see the partition issue)."""
