"""``python -m gis`` runs the CLI (same as the ``gridgis`` command)."""

from gis.cli import main

main()
