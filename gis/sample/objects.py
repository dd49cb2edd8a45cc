"""Supervision objects (enterprises) and incidents, placed where the work is.

Enterprises cluster in the industrial zones and town centres (some are scattered in
the countryside); their supervision level follows the domain's real figures: about
2.5 % supervised by the district (the highest-risk, largest ones), about 54 % by
the towns (every enterprise in an industrial zone first, then by risk), the rest by
the villages. Incidents happen near enterprises (pollution, noise) or in town
centres (street trading, food).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.sample import names
from gis.sample.tessellate import sample_in
from gis.validate import uscc_check_char

#: GB 32100-2015 code alphabet (digits and capitals without I, O, S, V, Z)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
DISTRICT_SHARE = 0.025
TOWN_SHARE = 0.54
SIZES = ("micro", "small", "medium", "large")
RISKS = ("low", "medium", "high", "major")
#: size probabilities in (industrial zone, town centre, countryside)
SIZE_P = np.array([(0.25, 0.45, 0.22, 0.08), (0.6, 0.3, 0.08, 0.02), (0.72, 0.24, 0.04, 0.0)])
#: risk-class probabilities per industry risk tier (low, medium, high)
RISK_P = np.array([(0.72, 0.24, 0.04, 0.0), (0.35, 0.45, 0.17, 0.03), (0.08, 0.32, 0.42, 0.18)])
#: share of enterprises placed in industrial-zone cores, other cores, rings, countryside
PLACEMENT = (0.35, 0.33, 0.12, 0.20)

INCIDENT_CATEGORIES = ("废气", "废水", "噪声", "固废", "食品安全", "占道经营")
INCIDENT_P = (0.22, 0.15, 0.2, 0.13, 0.12, 0.18)
INCIDENT_SOURCES = ("12345热线", "巡查", "媒体", "群众来信")
SOURCE_P = (0.55, 0.25, 0.05, 0.15)
_DESCRIPTIONS = {
    "废气": (
        "群众反映{e}夜间排放刺激性气味废气",
        "{e}烟囱冒黑烟，周边居民投诉异味",
        "{e}喷涂车间废气未经处理直排",
    ),
    "废水": ("{e}雨水排口有污水排出，河道发黑", "群众反映{e}偷排废水", "{e}附近河道出现泡沫和异味"),
    "噪声": (
        "{e}夜间施工噪声扰民",
        "{e}设备运行噪声过大，影响居民休息",
        "{p}附近夜间装卸货物噪声扰民",
    ),
    "固废": ("{e}厂区外堆放一般工业固废", "{p}附近发现倾倒的建筑垃圾", "{e}危险废物贮存不规范"),
    "食品安全": ("{e}后厨卫生状况差", "群众反映在{e}购买的食品过期", "{p}流动摊贩销售无证熟食"),
    "占道经营": ("{p}早市摊贩占道经营", "{p}店外占道经营、堆放杂物", "{p}夜间烧烤摊占用人行道"),
}
_MEDIA = ("上海电视台新闻坊", "新民晚报", "东方网", "看看新闻")


@dataclass
class Places:
    """What the object generators need to know about the district (all in metres)."""

    outline: BaseGeometry
    regions: tuple  # core, ring, rural
    seat_kind: np.ndarray
    seat_cores: np.ndarray
    units: np.ndarray
    unit_town: np.ndarray
    unit_village: np.ndarray
    town_names: np.ndarray
    village_names: np.ndarray
    streets: list[list[str]]
    county_code: str
    county_name: str


def credit_codes(rng: np.random.Generator, n: int, county_code: str) -> np.ndarray:
    """``n`` distinct valid unified social credit codes: 91 + county + 9 random + check.

    Duplicates (astronomically rare) are redrawn, so the output is unique.
    """
    alphabet = np.array(list(USCC_ALPHABET))
    body = rng.integers(0, len(alphabet), (n, 9))
    while True:
        keys = body @ (31 ** np.arange(9, dtype=np.int64))
        _, first = np.unique(keys, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        if dup.size == 0:
            break
        body[dup] = rng.integers(0, len(alphabet), (dup.size, 9))
    first17 = ["91" + county_code + "".join(row) for row in alphabet[body]]
    return np.array([c + uscc_check_char(c) for c in first17], dtype=object)


def locate(places: Places, xy: np.ndarray) -> np.ndarray:
    """Index of the unit grid containing each point."""
    tree = shapely.STRtree(places.units)
    return tree.query_nearest(shapely.points(xy), all_matches=False)[1]


def enterprise_table(
    rng: np.random.Generator, places: Places, n: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Enterprise attributes (store columns) and their points (metres)."""
    core, ring, rural = places.regions
    iz = places.seat_kind == "industrial_zone"
    iz_core = (
        shapely.intersection(shapely.union_all(places.seat_cores[iz]), core)
        if iz.any()
        else shapely.Polygon()
    )
    town_core = shapely.difference(core, iz_core)
    counts = np.floor(np.asarray(PLACEMENT) * n).astype(int)
    counts[-1] = n - counts[:-1].sum()
    chunks = []
    for region, m in zip((iz_core, town_core, ring, rural), counts, strict=True):
        if region.is_empty or region.area < 1.0:
            region = places.outline
        chunks.append(sample_in(rng, region, int(m)))
    xy = np.vstack(chunks)
    unit = locate(places, xy)
    town = places.unit_town[unit]
    village = places.unit_village[unit]
    in_iz = places.seat_kind[town] == "industrial_zone"
    built = np.arange(n) < counts[:3].sum()
    zone = np.where(in_iz, 0, np.where(built, 1, 2))

    w = names.INDUSTRY_WEIGHTS[:, zone].T  # (n, industries)
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    ind = (rng.random(n)[:, None] > cum).sum(axis=1)
    ind = np.minimum(ind, len(names.INDUSTRIES) - 1)
    phrase = np.array([names.INDUSTRIES[k][0] for k in range(len(names.INDUSTRIES))], dtype=object)[
        ind
    ]
    industry = np.array(
        [names.INDUSTRIES[k][1] for k in range(len(names.INDUSTRIES))], dtype=object
    )[ind]
    tier = np.array([names.INDUSTRIES[k][2] for k in range(len(names.INDUSTRIES))])[ind]
    size_idx = _draw(rng, SIZE_P[zone])
    risk_idx = _draw(rng, RISK_P[tier])
    size = np.asarray(SIZES, dtype=object)[size_idx]
    risk = np.asarray(RISKS, dtype=object)[risk_idx]

    # supervision level: district = the top 2.5 % by risk and size; town = all in
    # industrial zones, then by score, up to 54 %; the rest villages
    score = risk_idx * 3.0 + size_idx * 2.0 + rng.uniform(0.0, 2.0, n)
    n_district = round(DISTRICT_SHARE * n)
    n_town = round(TOWN_SHARE * n)
    level = np.full(n, "village", dtype=object)
    by_score = np.lexsort((np.arange(n), -score))
    district = by_score[:n_district]
    level[district] = "district"
    rest = np.setdiff1d(np.arange(n), district)
    town_order = rest[np.lexsort((rest, -score[rest], ~in_iz[rest]))]
    level[town_order[:n_town]] = "town"

    name = _enterprise_names(rng, places, phrase, town, size_idx, zone)
    address = _addresses(rng, places, town, village, zone)
    frame = pd.DataFrame(
        {
            "credit_code": credit_codes(rng, n, places.county_code),
            "name": name,
            "address": address,
            "industry": industry,
            "size": size,
            "risk_class": risk,
            "supervision_level": level,
        }
    )
    # a register is not sorted by zone: shuffle rows (deterministically)
    perm = rng.permutation(n)
    return frame.iloc[perm].reset_index(drop=True), xy[perm]


def _draw(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One categorical draw per row of the probability matrix ``p``."""
    cum = np.cumsum(p, axis=1)
    return np.minimum((rng.random(len(p))[:, None] > cum).sum(axis=1), p.shape[1] - 1)


def _enterprise_names(
    rng: np.random.Generator,
    places: Places,
    phrase: np.ndarray,
    town: np.ndarray,
    size_idx: np.ndarray,
    zone: np.ndarray,
) -> np.ndarray:
    """Names like 江川精细化工有限公司, 上海恒达塑料制品有限公司, 朱泾鑫盛五金厂; all distinct."""
    n = len(phrase)
    stem = names.county_stem(places.county_name)
    town_stems = np.array(
        [names.town_stem(t) if not t.endswith("工业区") else stem for t in places.town_names],
        dtype=object,
    )
    out = np.empty(n, dtype=object)
    todo = np.arange(n)
    first = True
    while todo.size:
        m = todo.size
        place = np.asarray(("上海", stem, ""), dtype=object)[rng.integers(0, 3, m)]
        place = np.where(place == "", town_stems[town[todo]], place)
        brand = names.brands(rng, m)
        # a few bare "place + trade" names in the first round (江川精细化工有限公司)
        bare = first & (rng.random(m) < 0.03)
        brand = np.where(bare, "", brand)
        suffix = np.where(
            size_idx[todo] >= 2,
            np.where(rng.random(m) < 0.3, "股份有限公司", "有限公司"),
            np.where((zone[todo] == 2) & (rng.random(m) < 0.35), "厂", "有限公司"),
        )
        shop = np.isin(phrase[todo], ("超市", "餐饮管理"))
        suffix = np.where(shop & (phrase[todo] == "超市"), "", suffix)
        out[todo] = place + brand + phrase[todo] + suffix
        _, first_idx = np.unique(out.astype(str), return_index=True)
        todo = np.setdiff1d(np.arange(n), first_idx)
        first = False
    return out


def _addresses(
    rng: np.random.Generator,
    places: Places,
    town: np.ndarray,
    village: np.ndarray,
    zone: np.ndarray,
) -> np.ndarray:
    """上海市江川区朱泾镇人民路128号 in built-up areas, 上海市江川区朱泾镇待泾村3组28号 elsewhere."""
    n = len(town)
    pick = rng.integers(0, 1 << 30, n)
    street = np.array(
        [
            places.streets[t][p % len(places.streets[t])]
            for t, p in zip(town.tolist(), pick.tolist(), strict=True)
        ],
        dtype=object,
    )
    num = rng.integers(1, 1000, n).astype(str).astype(object)
    group = rng.integers(1, 16, n).astype(str).astype(object)
    prefix = "上海市" + places.county_name + places.town_names[town]
    urban = prefix + street + num + "号"
    rural = prefix + places.village_names[village] + group + "组" + num + "号"
    return np.where(zone == 2, rural, urban)


def incident_table(
    rng: np.random.Generator,
    places: Places,
    n: int,
    ent: pd.DataFrame,
    ent_xy: np.ndarray,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Incidents of the year before ``as_of`` (fixed, not "now": determinism)."""
    cat = np.asarray(INCIDENT_CATEGORIES, dtype=object)[_draw(rng, np.tile(INCIDENT_P, (n, 1)))]
    source = np.asarray(INCIDENT_SOURCES, dtype=object)[_draw(rng, np.tile(SOURCE_P, (n, 1)))]
    food = np.flatnonzero(ent["industry"].isin(["餐饮业", "零售业", "食品制造业"]).to_numpy())
    anyone = np.arange(len(ent))
    pick_any = anyone[rng.integers(0, len(anyone), n)]
    pick_food = food[rng.integers(0, len(food), n)] if food.size else pick_any
    which = np.where(cat == "食品安全", pick_food, pick_any)
    street = cat == "占道经营"
    core = places.regions[0] if not places.regions[0].is_empty else places.outline
    street_xy = sample_in(rng, core, n)
    base = np.where(street[:, None], street_xy, ent_xy[which])
    xy = base + rng.normal(0.0, 40.0, (n, 2))
    shapely.prepare(places.outline)
    inside = shapely.contains_xy(places.outline, xy[:, 0], xy[:, 1])
    xy = np.where(inside[:, None], xy, base)

    unit = locate(places, xy)
    place = (
        places.town_names[places.unit_town[unit]] + places.village_names[places.unit_village[unit]]
    )
    templ = rng.integers(0, 3, n)
    ent_name = ent["name"].to_numpy()[which]
    desc = np.array(
        [
            _DESCRIPTIONS[c][t].format(e=e, p=p)
            for c, t, e, p in zip(
                cat.tolist(), templ.tolist(), ent_name.tolist(), place.tolist(), strict=True
            )
        ],
        dtype=object,
    )
    seconds = np.sort(rng.integers(0, 365 * 86400, n))[::-1]
    reported = pd.DatetimeIndex(as_of - pd.to_timedelta(seconds, unit="s")).as_unit("us")
    age_days = seconds / 86400.0
    closed = rng.random(n) < np.where(age_days > 15, 0.93, 0.35)
    status = np.where(closed, "closed", "open").astype(object)
    mobile = names.mobile_numbers(rng, n)
    media = np.asarray(_MEDIA, dtype=object)[rng.integers(0, len(_MEDIA), n)]
    contact = np.where(source == "巡查", None, np.where(source == "媒体", media + "记者", mobile))
    frame = pd.DataFrame(
        {
            "category": cat,
            "source": source,
            "reported_at": reported,
            "description": desc,
            "reporter_contact": contact,
            "status": status,
        }
    )
    return frame, xy
