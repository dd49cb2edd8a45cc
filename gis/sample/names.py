"""Chinese names for everything the sample holds: towns, villages, roads, rivers,
people, enterprises, phone numbers.

Pools are fixed tuples (never sets) and every draw goes through the caller's
``numpy.random.Generator``, so the same seed gives the same names.
"""

from __future__ import annotations

import numpy as np

TOWNS = (
    "朱泾镇", "枫泾镇", "张堰镇", "亭林镇", "吕巷镇", "廊下镇", "金山卫镇", "漕泾镇",
    "山阳镇", "兴塔镇", "新农镇", "钱圩镇", "干巷镇", "松隐镇", "泖港镇", "叶榭镇",
)  # fmt: skip
SUBDISTRICTS = ("石化街道", "江川路街道", "城中街道", "滨海街道")
EXPRESSWAYS = ("G15沈海高速", "G60沪昆高速", "S4沪金高速", "S32申嘉湖高速")
ARTERIALS = (
    "沪杭公路", "朱枫公路", "亭枫公路", "松金公路", "金山大道", "漕廊公路", "大叶公路",
    "亭卫公路", "卫零路", "朱吕公路", "张廊公路", "金张公路", "新卫公路", "浦卫公路",
    "干钱公路", "松卫公路", "林慧路", "秦望路",
)  # fmt: skip
RIVERS = (
    "张泾河",
    "黄浦江支流",
    "龙泉港",
    "掘石港",
    "紫石泾",
    "惠高泾",
    "大泖港",
    "胥浦塘",
    "新泾港",
)
STREET_WORDS = (
    "人民", "新华", "建设", "解放", "和平", "健康", "文化", "工业", "东风", "胜利", "复兴",
    "振兴", "兴业", "创业", "科技", "环城", "滨河", "临江", "海晨", "卫清", "龙胜", "板桥",
    "蒙山", "石化", "亭卫", "万安", "朝阳", "金石", "永联", "育才", "凤翔", "秋实",
)  # fmt: skip

#: village / community names: first and second character pools (Shanghai-like)
VILLAGE_A = tuple("新华联红胜东西南北永和建光金民友兴长秀卫山五待张李王高龙黄中前后大小双")
VILLAGE_B = tuple("丰平明星主谊隆春州城桥塘泾港湾浜庄园溪林河池墩坊荡圩埭浦岸")

SURNAMES = (
    "张", "王", "李", "陈", "徐", "沈", "陆", "顾", "朱", "钱", "周", "吴", "杨", "刘",
    "黄", "孙", "胡", "蒋", "姚", "施", "金", "曹", "蔡", "戴", "郁", "俞", "唐", "许",
    "马", "范", "潘", "汤", "卫", "龚", "盛", "严", "何", "高", "倪", "瞿",
)  # fmt: skip
GIVEN = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华慧建国平刚桂兰文辉玲峰红霞志宏宇晨浩佳琪嘉怡欣婷"
)

MOBILE_PREFIXES = (
    "139",
    "138",
    "137",
    "136",
    "135",
    "158",
    "159",
    "150",
    "151",
    "152",
    "186",
    "187",
    "188",
    "189",
    "133",
    "153",
    "180",
    "181",
    "177",
    "199",
)

BRAND_A = tuple("恒鑫华宏金盛永通远嘉瑞信达丰泰荣昌凯新佳中联合源兴博亿")
BRAND_B = tuple("达盛隆泰通源丰华成远鑫辉利昌顺宇晟泽诚祥瑞欣")

#: (name phrase, industry (国民经济行业), risk tier 0 low / 1 medium / 2 high)
INDUSTRIES = (
    ("精细化工", "化学原料和化学制品制造业", 2),
    ("化工", "化学原料和化学制品制造业", 2),
    ("新材料科技", "化学原料和化学制品制造业", 1),
    ("医药", "医药制造业", 2),
    ("印染", "纺织业", 2),
    ("再生资源", "废弃资源综合利用业", 2),
    ("塑料制品", "橡胶和塑料制品业", 1),
    ("橡胶制品", "橡胶和塑料制品业", 1),
    ("金属制品", "金属制品业", 1),
    ("五金", "金属制品业", 1),
    ("机械制造", "通用设备制造业", 0),
    ("汽车配件", "汽车制造业", 1),
    ("电子科技", "计算机、通信和其他电子设备制造业", 0),
    ("纺织", "纺织业", 1),
    ("服饰", "纺织服装、服饰业", 0),
    ("食品", "食品制造业", 1),
    ("饮料", "酒、饮料和精制茶制造业", 0),
    ("包装材料", "造纸和纸制品业", 1),
    ("建材", "非金属矿物制品业", 1),
    ("混凝土", "非金属矿物制品业", 1),
    ("家具", "家具制造业", 1),
    ("印刷", "印刷和记录媒介复制业", 1),
    ("环保科技", "生态保护和环境治理业", 1),
    ("物流", "道路运输业", 0),
    ("餐饮管理", "餐饮业", 0),
    ("商贸", "批发业", 0),
    ("超市", "零售业", 0),
    ("汽车维修", "机动车、电子产品和日用产品修理业", 1),
    ("农业科技", "农业", 0),
    ("畜牧", "畜牧业", 1),
    ("水产养殖", "渔业", 0),
)
#: relative frequency of each industry in (industrial zone, town centre, countryside)
INDUSTRY_WEIGHTS = np.array(
    [
        (8, 0.2, 0.2), (8, 0.3, 0.3), (6, 1, 0.3), (3, 0.2, 0.1), (2, 0.3, 0.5), (2, 0.3, 1.5),
        (6, 2, 2), (3, 1, 1), (7, 3, 3), (2, 3, 2), (8, 2, 2), (5, 1, 1), (6, 2, 0.5),
        (2, 2, 2), (1, 3, 1), (2, 3, 1), (1, 1, 0.5), (3, 1, 1), (2, 2, 2), (1, 0.5, 1.5),
        (1, 2, 2), (1, 2, 0.5), (2, 1, 0.5), (3, 3, 2), (0.5, 8, 1), (1, 8, 1), (0.2, 6, 2),
        (1, 3, 2), (0.1, 0.5, 5), (0.1, 0.1, 3), (0.1, 0.1, 2.5),
    ]
)  # fmt: skip


def county_stem(county_name: str) -> str:
    """江川区 -> 江川 (the stem used in enterprise and industrial-zone names)."""
    for suffix in ("新区", "区", "县", "市"):
        if county_name.endswith(suffix) and len(county_name) > len(suffix):
            return county_name[: -len(suffix)]
    return county_name


def town_stem(town_name: str) -> str:
    """朱泾镇 -> 朱泾, 江川工业区 -> 江川工业区 (kept whole), 石化街道 -> 石化."""
    for suffix in ("街道", "镇"):
        if town_name.endswith(suffix):
            return town_name[: -len(suffix)]
    return town_name


def street_name(word: str, suffix: str) -> str:
    """A local street name: 人民路, 工业街."""
    return f"{word}{suffix}"


def fallback_streets(pool: list[str]) -> list[str]:
    """Street names for addresses in a town whose core holds no street."""
    return [f"{w}路" for w in pool[:4]]


def village_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct two-character village stems (suffix 村 / 居委会 added by the caller)."""
    combos = np.array([a + b for a in VILLAGE_A for b in VILLAGE_B if a != b], dtype=object)
    if n > len(combos):
        raise ValueError(f"at most {len(combos)} villages")
    return combos[rng.permutation(len(combos))[:n]]


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random Chinese personal names: surname + one or two given-name characters."""
    s = np.asarray(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.asarray(GIVEN, dtype=object)[rng.integers(0, len(GIVEN), n)]
    g2 = np.asarray(GIVEN, dtype=object)[rng.integers(0, len(GIVEN), n)]
    two = rng.random(n) < 0.7
    return s + g1 + np.where(two, g2, "")


def mobile_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """11-digit mainland mobile numbers like 139xxxxxxxx."""
    prefix = np.asarray(MOBILE_PREFIXES, dtype=object)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    rest = rng.integers(0, 10**8, n)
    return prefix + np.char.zfill(rest.astype(str), 8).astype(object)


def office_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Shanghai office numbers 021-5xxxxxxx (Jinshan-area exchanges)."""
    rest = rng.integers(0, 10**6, n)
    head = np.asarray(("57", "67", "37", "59"), dtype=object)[rng.integers(0, 4, n)]
    return "021-" + head + np.char.zfill(rest.astype(str), 6).astype(object)


def brands(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two-character trade names (字号) like 恒达, 鑫盛."""
    a = np.asarray(BRAND_A, dtype=object)[rng.integers(0, len(BRAND_A), n)]
    b = np.asarray(BRAND_B, dtype=object)[rng.integers(0, len(BRAND_B), n)]
    return a + b
