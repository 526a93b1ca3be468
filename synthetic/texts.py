"""Chinese text that looks like Shunde's: person and company names, street addresses, and the
ways text gets damaged on its way through legacy systems (full-width forms, GBK/UTF-8 mojibake).
"""

from __future__ import annotations

import random

from catalog.reference import SHUNDE_TOWNS

# Common surnames, roughly by frequency in Guangdong (first ones drawn most often).
SURNAMES = "陈李黄张梁林刘吴罗何郑周王谢冯麦杨赵邓曾蔡许彭苏潘卢钟郭叶胡朱欧关马区伍温江罗廖谭邹孔莫余杜高龙汤卢冼简"
COMPOUND_SURNAMES = ("欧阳", "司徒", "上官", "诸葛")
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红志建国文辉俊宇浩然嘉欣"
    "梓轩子涵诗琪晓彤家豪锦荣少伟惠玲婉婷永康振华宏达德明月好思颖雅琳泽楷铭"
)
# Characters that legacy systems mishandle: outside GB 2312, one outside the BMP (U+30EDD).
RARE_CHARS = ("𰻝", "堃", "喆", "䶮", "昇", "赟", "玥", "珺", "燊", "犇")

TOWN_SHORT = {code: name.removesuffix("街道").removesuffix("镇") for code, name in SHUNDE_TOWNS.items()}
ROADS = (
    "新桂路",
    "德和路",
    "南国路",
    "凤山路",
    "桂畔路",
    "容奇大道",
    "伦教大道",
    "勒流大道",
    "碧桂路",
    "三乐路",
    "龙洲路",
    "杏坛大道",
    "均安大道",
    "北滘大道",
    "广珠公路",
    "顺峰路",
    "东乐路",
    "环市路",
    "宝林路",
    "文华路",
    "兴业路",
    "建设路",
    "工业大道",
    "金沙路",
    "乐从大道",
    "陈村大道",
    "云路",
)
COMMUNITY_WORDS = (
    "新城",
    "南区",
    "北区",
    "东村",
    "西村",
    "桂畔",
    "红岗",
    "大门",
    "华口",
    "细滘",
    "龙涌",
    "水藤",
    "马岗",
    "扶闾",
    "沙滘",
    "光华",
    "仙涌",
    "南华",
    "三华",
    "碧江",
    "黄龙",
    "勒北",
    "众涌",
)
COMPANY_WORDS = (
    "美",
    "格",
    "华",
    "科",
    "达",
    "顺",
    "联",
    "宏",
    "嘉",
    "锦",
    "盈",
    "泰",
    "丰",
    "创",
    "力",
    "恒",
    "信",
    "德",
    "智",
    "源",
    "汇",
    "昌",
    "新",
    "万",
    "佳",
    "隆",
    "晟",
    "亿",
)
_FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"}


def person_name(rng: random.Random, rare_rate: float = 0.004) -> str:
    """A 2–3 (rarely 4) character name; a few carry a rare character."""
    surname = (
        rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.005 else SURNAMES[int(rng.random() ** 2 * len(SURNAMES))]
    )
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(1 if rng.random() < 0.25 else 2))
    if rng.random() < rare_rate:
        given = given[:-1] + rng.choice(RARE_CHARS)
    return surname + given


def community_name(town9: str, village3: int) -> str:
    """The 居委会 / 村委会 of a 12-digit division code (001–199 居委会, 200–399 村委会)."""
    word = COMMUNITY_WORDS[(int(town9[-3:]) * 7 + village3) % len(COMMUNITY_WORDS)]
    return f"{word}社区居委会" if village3 < 200 else f"{word}村委会"


def street_address(town9: str, rng: random.Random, *, room: bool = True) -> str:
    """广东省佛山市顺德区<town><road><n>号[<building>座<room>]."""
    road = rng.choice(ROADS)
    number = rng.randrange(1, 400)
    tail = f"{rng.randrange(1, 30)}座{rng.randrange(1, 33)}{rng.randrange(1, 9):02d}房" if room else ""
    return f"广东省佛山市顺德区{SHUNDE_TOWNS[town9]}{road}{number}号{tail}"


def company_name(town9: str, rng: random.Random, industry_word: str, form: str) -> str:
    """佛山市顺德区<words><industry>有限公司 or a 个体 shop name."""
    words = "".join(rng.choice(COMPANY_WORDS) for _ in range(2))
    if form == "个体":
        return f"顺德区{TOWN_SHORT[town9]}{words}{industry_word}店"
    return f"佛山市顺德区{words}{industry_word}有限公司"


def fullwidth(text: str) -> str:
    """ASCII letters, digits, punctuation and spaces as their full-width forms."""
    return "".join(_FULLWIDTH.get(ch, ch) for ch in text)


def near_duplicate(text: str, rng: random.Random) -> str:
    """The same text typed again: full-width digits/brackets, or a stray space between characters."""
    widened = fullwidth(text)
    if widened != text and rng.random() < 0.7:
        return widened
    cut = 1 + rng.randrange(max(1, len(text) - 1))
    return text[:cut] + rng.choice((" ", "\u3000")) + text[cut:]


def mojibake(text: str) -> str:
    """Damaged text: UTF-8 bytes read as GBK, or (when GBK cannot hold a character) a '?'."""
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return text.encode("gb2312", errors="replace").decode("gb2312")
    garbled = text.encode("utf-8").decode("gbk", errors="replace")
    return garbled if garbled != text else text + "\ufffd"
