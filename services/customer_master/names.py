"""Company and person names reduced to comparable parts: script, brackets, regions, legal forms, titles."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc
from pypinyin import lazy_pinyin

# Provinces and province-level cities, then prefecture-level cities that lead company names most often.
_PROVINCES = (
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 "
    "云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门"
).split()
_CITIES = (
    "杭州 宁波 温州 嘉兴 湖州 绍兴 金华 衢州 舟山 台州 丽水 南京 苏州 无锡 常州 南通 扬州 镇江 泰州 徐州 盐城 淮安 "
    "连云港 宿迁 广州 深圳 珠海 佛山 东莞 中山 惠州 江门 汕头 湛江 肇庆 茂名 韶关 成都 绵阳 德阳 武汉 宜昌 襄阳 长沙 "
    "株洲 湘潭 岳阳 郑州 洛阳 开封 新乡 济南 青岛 烟台 潍坊 淄博 威海 临沂 济宁 合肥 芜湖 蚌埠 马鞍山 福州 厦门 泉州 "
    "漳州 莆田 南昌 赣州 九江 石家庄 唐山 保定 廊坊 邯郸 太原 大同 沈阳 大连 鞍山 长春 吉林 哈尔滨 大庆 西安 宝鸡 "
    "兰州 西宁 银川 乌鲁木齐 呼和浩特 包头 南宁 柳州 桂林 贵阳 遵义 昆明 海口 三亚 拉萨"
).split()
_ADMIN_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市", "区", "县")
_PLACE_NAMES = "|".join(sorted((re.escape(n) for n in _PROVINCES + _CITIES), key=len, reverse=True))
_REGION = re.compile(f"^(?P<place>{_PLACE_NAMES})(?:" + "|".join(_ADMIN_SUFFIXES) + ")?")
_ANY_PLACE = re.compile(_PLACE_NAMES)
# Municipalities are cities: a province in front of a city is dropped from a place-only core, they are not.
_MUNICIPALITIES = frozenset("北京 天津 上海 重庆 香港 澳门".split())
# English place names that lead Latin company names ("Hangzhou ... Co., Ltd.").
_LATIN_REGIONS = frozenset("".join(lazy_pinyin(n)) for n in _PROVINCES + _CITIES) | {
    "peking",
    "canton",
    "hongkong",
    "macau",
    "china",
    "shanghai",
    "beijing",
}

# Longest first, so 股份有限公司 goes before 有限公司 and 公司.
_CN_LEGAL_FORMS = (
    "集团股份有限公司",
    "集团有限责任公司",
    "集团有限公司",
    "股份有限公司",
    "有限责任公司",
    "股份合作公司",
    "有限公司",
    "股份公司",
    "集团公司",
    "总公司",
    "集团",
    "公司",
    "股份",
)
_CN_BRANCH_MARKS = ("分公司", "营业部", "分行", "支行", "办事处", "分厂", "分店", "分所")
_LATIN_LEGAL_FORMS = frozenset(
    "co company corp corporation inc incorporated ltd limited llc plc lp llp gmbh ag sa nv bv spa srl ab oy as "
    "kk pte pty bhd group holding holdings the".split()
)
# Common words of company names, Latin → the Chinese word they translate, so both scripts meet in pinyin.
_LATIN_WORDS = {
    "technology": "科技",
    "technologies": "科技",
    "tech": "科技",
    "science": "科学",
    "international": "国际",
    "electronic": "电子",
    "electronics": "电子",
    "electric": "电气",
    "trading": "贸易",
    "trade": "贸易",
    "information": "信息",
    "network": "网络",
    "software": "软件",
    "industrial": "实业",
    "industry": "工业",
    "investment": "投资",
    "development": "发展",
    "pharmaceutical": "医药",
    "pharma": "医药",
    "bank": "银行",
    "machinery": "机械",
    "materials": "材料",
    "energy": "能源",
    "environmental": "环保",
    "logistics": "物流",
    "media": "传媒",
    "culture": "文化",
    "education": "教育",
    "medical": "医疗",
    "food": "食品",
    "chemical": "化工",
    "construction": "建设",
    "engineering": "工程",
    "real": "",
    "estate": "地产",
    "consulting": "咨询",
    "management": "管理",
    "services": "服务",
    "service": "服务",
    "auto": "汽车",
    "automotive": "汽车",
    "new": "新",
    "digital": "数字",
    "intelligent": "智能",
    "smart": "智能",
    "cloud": "云",
    "data": "数据",
}
_TITLES_CN = (
    "总经理",
    "副总经理",
    "董事长",
    "总监",
    "经理",
    "主任",
    "主管",
    "老板",
    "老师",
    "先生",
    "女士",
    "小姐",
    "博士",
    "教授",
    "工",
    "总",
    "姐",
    "哥",
)
_TITLES_LATIN = frozenset("mr mrs ms miss dr prof sir madam mister".split())
_COMPOUND_SURNAMES = frozenset("欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木".split())

# How far apart two characters of a Chinese core may stand and still form one of its search keys.
PAIR_WINDOW = 3
# Words that say what trade a company is in, not which company it is: a core ends in them (华信 + 信息技术).
_INDUSTRY_WORDS = tuple(
    sorted(
        (
            "科技 技术 信息 网络 软件 数据 智能 电子 电气 电器 通信 通讯 实业 工业 贸易 商贸 工贸 国际 投资 控股 发展 "
            "管理 咨询 服务 医药 医疗 生物 健康 化工 材料 新材料 能源 新能源 环保 机械 设备 制造 汽车 物流 运输 供应链 "
            "建设 工程 建筑 装饰 置业 地产 房地产 文化 传媒 广告 教育 培训 食品 农业 餐饮 酒店 旅游 服装 纺织 金融 "
            "资产 保险 证券 银行 商业"
        ).split(),
        key=len,
        reverse=True,
    )
)

# Words that name what kind of undertaking a company is, not which: a port group named after its cities
# (宁波舟山港) has nothing else, so its place words are its core.
_GENERIC_WORDS = tuple(
    sorted(
        (
            *_INDUSTRY_WORDS,
            *"港务 港口 港 机场 码头 铁路 高速 交通 水务 燃气 热力 电力 公交 地铁 城投 城建 农商 集团 股份 有限 公司 总 "
            "实业 控股 开发 产业 国资 国有 资本".split(),
        ),
        key=len,
        reverse=True,
    )
)

_BRACKETS = re.compile(r"[(\[{（【〔「『《<]([^)\]}）】〕」』》>]*)[)\]}）】〕」』》>]")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# The exchange's marks before a listed company's short name (G浦发, S东汽, *ST某某, XD某某): the market's state of
# the share, not part of the company's name.
_STOCK_MARKS = re.compile(r"^(?:s?\*?st|s|g|n|xd|xr|dr)(?=[\u3400-\u9fff])")
_HAN = re.compile(r"[\u3400-\u9fff]")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _t2s_entries() -> tuple[frozenset[str], tuple[str, ...]] | None:
    """What t2s converts: the characters of its dictionaries, and the phrases holding none of those. A text holding
    none of either holds no dictionary entry, so the conversion hands it back unchanged. None when the converter's
    dictionaries cannot be read."""
    groups = getattr(_t2s(), "_dict_chain_data", None)
    try:
        keys = [key for group in groups or () for _, _, entries in group for key in entries]
    except (TypeError, ValueError):
        return None
    if not keys:
        return None
    characters = frozenset(key for key in keys if len(key) == 1)
    return characters, tuple(key for key in keys if len(key) > 1 and characters.isdisjoint(key))


def fold(text: str) -> str:
    """NFKC (full-width to half-width), case-folded, traditional to simplified Chinese."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # The converter walks every text in Python; most hold nothing it would convert.
    entries = _t2s_entries()
    if entries is not None and entries[0].isdisjoint(folded) and not any(p in folded for p in entries[1]):
        return folded
    return _t2s().convert(folded)


def has_han(text: str) -> bool:
    """Whether the text holds Chinese characters."""
    return bool(_HAN.search(text))


@lru_cache(maxsize=65536)
def to_latin(text: str) -> str:
    """Pinyin of the Chinese characters (no tones), Latin letters and digits kept, no separators."""
    return _NON_WORD.sub("", "".join(lazy_pinyin(text)))


@dataclass(frozen=True)
class CompanyName:
    """A company name split into what identifies it and what only qualifies it."""

    core: str
    region: str = ""
    legal_form: str = ""
    branch: str = ""
    qualifier: str = ""
    # The Latin key of a Latin name; a Chinese core's pinyin is computed only when asked for (see latin).
    spelled: str | None = None

    @property
    def latin(self) -> str:
        """The Latin key: a Latin name's words, or the pinyin of a Chinese core (Chinese and Latin meet here)."""
        # pypinyin costs ~0.1 ms a name, and a Chinese pair is compared on its characters: only ask when needed.
        return self.spelled if self.spelled is not None else to_latin(self.core)

    @property
    def key(self) -> str:
        """The exact-match key: core, qualifier and branch (a branch is another entity)."""
        return "|".join(part for part in (self.core, self.qualifier, self.branch) if part) or ""

    @property
    def grams(self) -> list[str]:
        """Search keys of a Chinese core: the core, pairs holding a distinctive character, and those with the trade."""
        if not has_han(self.core):
            return []
        core = self.core
        brand, industry = split_industry(core)
        # Pairs up to PAIR_WINDOW apart, gap unmarked: a short name keeps the pairs of the full name with characters
        # left out between them (宇丰科技 ← 宇雅丰医药科技 share 宇丰), and a mistyped character leaves most pairs.
        # Pairs inside the trade words (科技, 实业) are left out: thousands share them, they tell no company apart.
        pairs = {
            core[i] + core[j]
            for i in range(min(len(brand), len(core)))
            for j in range(i + 1, min(len(core), i + 1 + PAIR_WINDOW))
        }
        # A character of the distinctive part together with the whole trade is rare even when both are common: it
        # finds 信达实业科技 for 信讯实业科技 when every pair they share is shared by thousands.
        trade = {f"{ch}|{industry}" for ch in set(brand)} if industry else set()
        # The place in front pairs with the first characters: 上汽 is 上海汽车, 贵技实业 is 贵阳技智立工实业.
        prefix = self.region[:2] if has_han(self.region) else ""
        placed = {
            p + core[j]
            for i, p in enumerate(prefix)
            for j in range(min(len(core), max(0, PAIR_WINDOW - len(prefix) + i)))
        }
        # The whole core and the place prefix are keys too: every key row carries their text (insert_grams).
        exact = {f"={core}"} | ({f"^{prefix}"} if prefix else set())
        return sorted(pairs | trade | placed | exact)


def split_industry(core: str) -> tuple[str, str]:
    """A Chinese core split into its distinctive part and the industry words it ends in (华信, 信息技术)."""
    end = len(core)
    changed = True
    while changed:
        changed = False
        for word in _INDUSTRY_WORDS:
            # The distinctive part keeps at least one character: 科技 alone is the name, not only its trade.
            if core.endswith(word, 0, end) and end - len(word) >= 1:
                end -= len(word)
                changed = True
                break
    return core[:end], core[end:]


def _strip_region(text: str) -> tuple[str, str]:
    region = ""
    # At most a province and a city: a third place name in front is part of the name (上海浦东发展银行).
    for _ in range(2):
        found = _REGION.match(text)
        # Never strip a region that is the whole name: 上海 alone is a name, not a place in front of one.
        if not found or found.end() >= len(text):
            return text, region
        region += found.group(0)
        text = text[found.end() :]
    return text, region


def distinctive(core: str) -> str:
    """What is left of a Chinese core without place names and generic words (trade, port, group): its own part."""
    rest = _ANY_PLACE.sub("", core)
    for word in _GENERIC_WORDS:
        rest = rest.replace(word, "")
    return rest


def _place_words(region: str) -> str:
    """The place names of a stripped region without 省/市/区, a province dropped before a city (浙江省杭州市: 杭州)."""
    places = []
    while found := _REGION.match(region):
        places.append(found.group("place"))
        region = region[found.end() :]
    if len(places) > 1 and places[0] in _PROVINCES and places[0] not in _MUNICIPALITIES:
        places = places[1:]
    return "".join(places) + region


def _strip_cn_legal_form(text: str) -> tuple[str, str]:
    legal = ""
    changed = True
    while changed:
        changed = False
        for form in _CN_LEGAL_FORMS:
            if text.endswith(form) and len(text) > len(form):
                text, legal = text[: -len(form)], form + legal
                changed = True
                break
    return text, legal


@lru_cache(maxsize=262144)
def normalize_company_name(raw: str) -> CompanyName:
    """Split a company name (Chinese or Latin) into core, region, legal form, branch and bracketed qualifier."""
    text = _STOCK_MARKS.sub("", fold(raw).strip())
    qualifiers: list[str] = []

    def bracket(match: re.Match[str]) -> str:
        inner = _NON_WORD.sub("", match.group(1))
        if match.start() == 0:
            # A bracket that opens the name holds the name itself (【某某】科技), not a qualifier.
            return inner
        inner_core, _ = _strip_cn_legal_form(inner)
        # (集团), (股份), (Holdings) say nothing about which entity; (当阳) or (北京) names a different one.
        if inner and inner not in _CN_LEGAL_FORMS and inner not in ("股份", "控股") and inner_core not in ("",):
            if not all(w in _LATIN_LEGAL_FORMS for w in match.group(1).split()):
                qualifiers.append(inner_core)
        return " "

    text = _BRACKETS.sub(bracket, text)
    branch = ""
    for mark in _CN_BRANCH_MARKS:
        at = text.find(mark)
        if at > 0:
            # Everything from the place before the mark on names the branch: 杭州某某科技有限公司上海分公司.
            head, tail = text[:at], text[at:]
            _, legal = _strip_cn_legal_form(_NON_WORD.sub("", head))
            if legal:
                branch = _NON_WORD.sub("", tail)
                text = head
            else:
                branch = _NON_WORD.sub("", text[max(0, at - 2) :])
                text = text[: max(0, at - 2)] or text[:at]
            break
    if has_han(text):
        compact = _NON_WORD.sub("", text)
        compact, region = _strip_region(compact)
        core, legal = _strip_cn_legal_form(compact)
        core, more_region = _strip_region(core)
        region += more_region
        if region and not distinctive(core):
            # Nothing but place and trade words (宁波舟山港): the places are what tells it from other ports.
            core, region = _place_words(region) + core, ""
        return CompanyName(
            core=core,
            region=region,
            legal_form=legal,
            branch=branch,
            qualifier="".join(qualifiers),
        )
    words = _join_initials([w for w in _NON_WORD.split(text.replace("&", " and ")) if w])
    legal_words: list[str] = []
    while len(words) > 1 and words[-1] in _LATIN_LEGAL_FORMS:
        legal_words.insert(0, words.pop())
    while len(words) > 1 and words[0] in _LATIN_LEGAL_FORMS:
        legal_words.append(words.pop(0))
    region_words: list[str] = []
    while len(words) > 1 and words[0] in _LATIN_REGIONS:
        region_words.append(words.pop(0))
    core = "".join(words)
    latin = "".join(to_latin(_LATIN_WORDS[w]) if w in _LATIN_WORDS else w for w in words if w != "and")
    return CompanyName(
        core=core,
        region="".join(region_words),
        legal_form=" ".join(legal_words),
        branch=branch,
        qualifier="".join(qualifiers),
        spelled=latin,
    )


def _join_initials(words: list[str]) -> list[str]:
    """Runs of single letters are one abbreviation: N. V. is nv, S A is sa."""
    joined: list[str] = []
    run = ""
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run += word
            continue
        if run:
            joined.append(run)
            run = ""
        if word:
            joined.append(word)
    return joined


@dataclass(frozen=True)
class PersonName:
    """A person's name: the name without titles, its Latin form, surname and given name when known."""

    full: str
    latin: str
    surname: str = ""
    given: str = ""
    title_only: bool = False


@lru_cache(maxsize=65536)
def normalize_person_name(raw: str) -> PersonName:
    """Strip titles (经理, 总, 先生, Mr, Dr …); Chinese names also get pinyin and a surname."""
    text = fold(raw).strip()
    if has_han(text):
        compact = _NON_WORD.sub("", text)
        stripped = compact
        changed = True
        while changed:
            changed = False
            for title in _TITLES_CN:
                if stripped.endswith(title) and len(stripped) > len(title):
                    stripped, changed = stripped[: -len(title)], True
                    break
        if stripped.startswith("小") or stripped.startswith("老"):
            stripped = stripped[1:] or stripped
        title_only = stripped != compact and len(stripped) <= 2 and stripped[:2] not in _COMPOUND_SURNAMES
        title_only = title_only and len(stripped) == 1
        size = 2 if stripped[:2] in _COMPOUND_SURNAMES else 1
        surname, given = stripped[:size], stripped[size:]
        return PersonName(
            full=stripped,
            latin=" ".join(p for p in (to_latin(surname), to_latin(given)) if p),
            surname=to_latin(surname),
            given=to_latin(given),
            title_only=title_only,
        )
    words = [w for w in _NON_WORD.split(text) if w and w not in _TITLES_LATIN]
    return PersonName(full=" ".join(words), latin=" ".join(words))
