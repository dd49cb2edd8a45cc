"""A real CJK font for printed maps, and a check that it covers every character drawn.

Boards are printed on notice boards, so a missing glyph (a "tofu" box) is a bug. The
font is Noto Sans CJK SC: Debian's ``fonts-noto-cjk`` (``scripts/provision.sh``
installs it), found through fontconfig (``fc-match``) or its known paths; the
environment variable ``GRIDGIS_CJK_FONT`` (a .ttc/.otf/.ttf path, optionally
``path#face_index``) overrides the search.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gis.errors import GridGisError

INSTALL_HINT = "apt-get install -y fonts-noto-cjk"
FAMILY = "Noto Sans CJK SC"
#: where Debian/Ubuntu and Fedora put Noto Sans CJK (regular, bold)
KNOWN_PATHS = (
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    ),
    (
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    ),
    (
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
    ),
)


class FontMissing(GridGisError):
    """No usable CJK font, or the font lacks characters the map draws."""


@dataclass(frozen=True)
class CJKFont:
    path: Path
    index: int  # face in a .ttc collection
    bold_path: Path | None = None
    bold_index: int = 0


def _face_index(path: Path, family: str = FAMILY) -> int | None:
    """Index of ``family`` in a font file (0 for single-face files); None if absent."""
    from matplotlib.ft2font import FT2Font

    try:
        first = FT2Font(str(path))
    except (OSError, RuntimeError):
        return None
    count = getattr(first, "num_faces", 1) or 1
    for i in range(count):
        face = first if i == 0 else FT2Font(str(path), face_index=i)
        if face.family_name == family:
            return i
    return None


def _fc_match(family: str) -> Path | None:
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}\t%{family}", f"{family}:lang=zh-cn"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    file, _, fam = out.partition("\t")
    return Path(file) if file and family in fam else None


def candidates() -> list[tuple[Path, Path | None]]:
    """(regular, bold) font files to try, best first."""
    out: list[tuple[Path, Path | None]] = []
    env = os.environ.get("GRIDGIS_CJK_FONT", "").strip()
    if env:
        out.append((Path(env.split("#")[0]), None))
    regular = _fc_match(FAMILY)
    if regular:
        out.append((regular, None))
    out.extend((Path(r), Path(b)) for r, b in KNOWN_PATHS)
    return out


@lru_cache(maxsize=8)
def _resolve(key: tuple[tuple[str, str | None], ...]) -> CJKFont | None:
    for regular, bold in key:
        reg = Path(regular)
        if not reg.is_file():
            continue
        env = os.environ.get("GRIDGIS_CJK_FONT", "")
        if "#" in env and Path(env.split("#")[0]) == reg:
            index: int | None = int(env.split("#")[1])
        else:
            index = _face_index(reg)
            if index is None and os.environ.get("GRIDGIS_CJK_FONT", "").strip() == str(reg):
                index = 0  # an explicit font of another family: trust the user, coverage is checked
        if index is None:
            continue
        if bold is None:  # Noto ships the bold weight next to the regular one
            guess = reg.with_name(reg.name.replace("Regular", "Bold"))
            bold = str(guess) if guess != reg and guess.is_file() else None
        bold_index = _face_index(Path(bold)) if bold and Path(bold).is_file() else None
        return CJKFont(reg, index, Path(bold) if bold_index is not None else None, bold_index or 0)
    return None


def find_cjk_font() -> CJKFont:
    """The CJK font to draw with, or a clear error saying how to install one."""
    found = _resolve(tuple((str(r), str(b) if b else None) for r, b in candidates()))
    if found is None:
        raise FontMissing(
            f"No CJK font found: printed maps need {FAMILY}. Install it with `{INSTALL_HINT}` "
            "(or set GRIDGIS_CJK_FONT=/path/to/font.ttc)",
            f"未找到中文字体：打印地图需要 {FAMILY}（思源黑体）。请运行 `{INSTALL_HINT}` 安装"
            "（或设置 GRIDGIS_CJK_FONT=/字体/路径.ttc）",
        )
    return found


def missing_chars(font: CJKFont, texts: Iterable[str]) -> list[str]:
    """Characters of ``texts`` the font has no glyph for (whitespace ignored), sorted."""
    from matplotlib.ft2font import FT2Font

    faces = [FT2Font(str(font.path), face_index=font.index)]
    if font.bold_path:
        faces.append(FT2Font(str(font.bold_path), face_index=font.bold_index))
    chars = {c for t in texts for c in t if not c.isspace()}
    return sorted(c for c in chars if any(f.get_char_index(ord(c)) == 0 for f in faces))


def check_coverage(font: CJKFont, texts: Iterable[str]) -> None:
    """Raise :class:`FontMissing` naming every character the font would draw as a box."""
    missing = missing_chars(font, texts)
    if missing:
        shown = " ".join(f"{c!r} (U+{ord(c):04X})" for c in missing[:40])
        raise FontMissing(
            f"The font {font.path.name} has no glyph for {len(missing)} character(s) on this map: {shown}. "
            f"Install {FAMILY} with `{INSTALL_HINT}` or set GRIDGIS_CJK_FONT to a font that covers them",
            f"字体 {font.path.name} 缺少地图上 {len(missing)} 个字符的字形：{shown}。"
            f"请运行 `{INSTALL_HINT}` 安装 {FAMILY}，或将 GRIDGIS_CJK_FONT 设为包含这些字符的字体",
        )


def font_properties(font: CJKFont, *, bold: bool = False, size: float | None = None):
    """Matplotlib FontProperties for the font (registered once with the font manager)."""
    from matplotlib import font_manager

    path, index = (
        (font.bold_path, font.bold_index) if bold and font.bold_path else (font.path, font.index)
    )
    _register(str(path))
    from matplotlib.ft2font import FT2Font

    family = FT2Font(str(path), face_index=index).family_name
    weight = "bold" if bold else "normal"
    return font_manager.FontProperties(family=family, weight=weight, size=size)


@lru_cache(maxsize=8)
def _register(path: str) -> None:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(path)  # every face of a .ttc collection
