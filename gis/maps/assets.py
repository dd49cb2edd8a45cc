"""The front-end assets of our folium maps: pinned copies, never a CDN.

folium 0.20 points a bare map at about ten assets on five outside hosts (Leaflet,
jQuery, Bootstrap, Font Awesome, awesome-markers, folium's own CSS) and each
plugin at more. Our maps use only what :data:`ASSETS` lists; each is vendored
under ``api/static/vendor`` by ``scripts/vendor_assets.sh`` (npm, lockfile in
``tools/vendor``, licences beside the files) and served by the API at
``/static/vendor/...``. The other folium defaults (jQuery, Bootstrap, Font Awesome,
awesome-markers, glyphicons) are dropped: our maps draw no ``folium.Icon`` markers
and no Bootstrap widgets. :func:`offline` points a map and its plugins at our copies;
:func:`inline` turns a rendered page into a standalone file that loads nothing,
and :func:`outside_urls` finds any reference left to an outside host.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path

import folium
from branca.element import Element, MacroElement

VENDOR_DIR = Path(__file__).resolve().parents[2] / "api" / "static" / "vendor"
URL_PREFIX = "/static/vendor"

#: name -> path under the vendor folder (npm package and version in tools/vendor/package.json)
ASSETS: dict[str, str] = {
    "leaflet": "leaflet/leaflet.js",
    "leaflet_css": "leaflet/leaflet.css",
    "markerclusterjs": "leaflet.markercluster/leaflet.markercluster.js",
    "markerclustercss": "leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster/MarkerCluster.Default.css",
    "leaflet-heat.js": "leaflet.heat/leaflet-heat.js",
    "vectorGrid": "leaflet.vectorgrid/Leaflet.VectorGrid.bundled.js",
}

#: what each kind of element loads (folium's asset names)
_JS = {
    "map": ["leaflet"],
    "markercluster": ["markerclusterjs"],
    "heatmap": ["leaflet-heat.js"],
    "vectorgrid": ["vectorGrid"],
}
_CSS = {"map": ["leaflet_css"], "markercluster": ["markerclustercss", "markerclusterdefaultcss"]}

_PLUGIN_KIND = {
    "MarkerCluster": "markercluster",
    "FastMarkerCluster": "markercluster",
    "HeatMap": "heatmap",
    "VectorGridProtobuf": "vectorgrid",
}


def _urls(names: list[str], prefix: str) -> list[tuple[str, str]]:
    return [(n, f"{prefix}/{ASSETS[n]}") for n in names]


def offline(element: Element, prefix: str = URL_PREFIX) -> Element:
    """Point ``element`` (a Map or a plugin) and every child at our vendored assets.

    Sets the instance's ``default_js``/``default_css`` (the classes are left alone),
    so it is safe with other folium users in the same process.
    """
    if isinstance(element, folium.Map):
        kind: str | None = "map"
    else:
        kind = next(
            (
                k
                for cls, k in _PLUGIN_KIND.items()
                if any(c.__name__ == cls for c in type(element).__mro__)
            ),
            None,
        )
        if kind is None and getattr(element, "default_js", None):
            kind = getattr(element, "asset_kind", None)
    if kind is not None:
        element.default_js = _urls(_JS.get(kind, []), prefix)  # type: ignore[attr-defined]
        element.default_css = _urls(_CSS.get(kind, []), prefix)  # type: ignore[attr-defined]
    for child in list(getattr(element, "_children", {}).values()):
        offline(child, prefix)
    return element


_SCRIPT = re.compile(r'<script src="(?P<url>[^"]+)"></script>')
_LINK = re.compile(r'<link rel="stylesheet" href="(?P<url>[^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\((['\"]?)(?!data:)(?P<ref>[^)'\"]+)\1\)")
_OUTSIDE = re.compile(
    r"""(?:src|href)\s*=\s*["'](?:https?:)?//[^"']+|url\(\s*["']?(?:https?:)?//""", re.I
)


def _file(url: str, prefix: str) -> Path:
    if not url.startswith(prefix + "/"):
        raise ValueError(f"asset {url} is not one of ours ({prefix}/...)")
    path = (VENDOR_DIR / url[len(prefix) + 1 :]).resolve()
    if VENDOR_DIR not in path.parents or not path.is_file():
        raise FileNotFoundError(f"vendored asset {path} is missing: run scripts/vendor_assets.sh")
    return path


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _inline_css(path: Path) -> str:
    css = path.read_text(encoding="utf-8")

    def repl(m: re.Match) -> str:
        ref = m.group("ref").split("?")[0].split("#")[0]
        target = (path.parent / ref).resolve()
        return f'url("{_data_uri(target)}")' if target.is_file() else m.group(0)

    return _CSS_URL.sub(repl, css)


def inline(html: str, prefix: str = URL_PREFIX) -> str:
    """The page with every vendored script and stylesheet copied in (images as data: URIs)."""
    html = _SCRIPT.sub(
        lambda m: (
            "<script>"
            + _file(m["url"], prefix).read_text(encoding="utf-8").replace("</script", "<\\/script")
            + "</script>"
        ),
        html,
    )
    html = _LINK.sub(lambda m: "<style>" + _inline_css(_file(m["url"], prefix)) + "</style>", html)
    # Leaflet's default marker image path is found from the stylesheet's URL; nothing else loads
    leftovers = outside_urls(html)
    if leftovers:
        raise ValueError(f"the standalone page still references outside resources: {leftovers[:5]}")
    return html


def outside_urls(html: str) -> list[str]:
    """References to other hosts a browser would load (src=, href= of link/script, CSS url())."""
    found = []
    for m in _OUTSIDE.finditer(html):
        start = html.rfind("<", 0, m.start())
        tag = html[start : start + 5].lower()
        if tag.startswith("<a "):  # a hyperlink (Leaflet's attribution) loads nothing
            continue
        found.append(m.group(0))
    return found


class Styles(MacroElement):
    """A literal <style> block in the page header (no file to load)."""

    def __init__(self, css: str) -> None:
        super().__init__()
        self._name = "Styles"
        self.css = css

    def render(self, **kwargs) -> None:  # noqa: D102
        figure = self.get_root()
        figure.header.add_child(Element(f"<style>{self.css}</style>"), name=self.get_name())
