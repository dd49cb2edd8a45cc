"""A deterministic sample district for tests, demos and benchmarks.

``generate_district(seed)`` builds admin units, roads and rivers, enterprises,
incidents and two grid plans (community levels 1-4, environment levels 1-3) in the
store's table shapes; ``load_district`` writes them into a store and publishes the
plans; ``write_boundaries`` writes the admin units and lines as GeoJSON.
"""

from gis.sample.district import SampleDistrict, generate_district
from gis.sample.output import load_district, write_boundaries

__all__ = ["SampleDistrict", "generate_district", "load_district", "write_boundaries"]
