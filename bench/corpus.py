"""A synthetic corpus of broker research reports as PDFs, for the benchmark.

``generate(out_dir, n, seed)`` renders ``n`` reports with PyMuPDF. Each one has 8-20 A4 pages:
a first page laid out like the sample reports in ``tests/fixtures/reports/`` (title, broker,
date, rating, analysts with their SAC numbers and e-mails, related reports, 投资要点; about one
in five with a narrow sidebar beside the main text), then body pages with sections, paragraphs
recombined from the sample reports' sentences, charts and tables, then a disclaimer page.

Brokers, companies, industries and rating words come from ``reportlake/data``. Report ``i`` of
seed ``s`` depends on nothing else, so a corpus of 200 is the first 200 of a corpus of 1,000,
and the same seed gives the same bytes (fixed PDF dates, no document ids). Publish dates run
over business days at ``REPORTS_PER_DAY`` reports a day, as a broker-research feed would.

The text uses PyMuPDF's built-in ``china-s`` font (Adobe-GB1, not embedded), with half-width
Latin glyphs, and content streams are written directly: a report takes a few milliseconds.

Besides the PDFs, ``out_dir`` gets ``.labels.jsonl`` (the fields each report was given, one
JSON object a line) and ``.corpus.json`` (n, seed and generator version, written last: the
corpus is complete when it is there). Both are hidden files, which the inbox source skips.

Run ``python -m bench.corpus OUT_DIR --n 200`` to generate from the command line.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pymupdf

GENERATOR_VERSION = 2
REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "reportlake" / "data"
SAMPLE_REPORTS = REPO / "tests" / "fixtures" / "reports"
LABELS_FILE = ".labels.jsonl"
MARKER_FILE = ".corpus.json"

REPORTS_PER_DAY = 200
FIRST_DAY = dt.date(2024, 10, 8)  # the first trading day after the National Day holiday
HOLIDAYS = frozenset(
    {dt.date(2025, 1, 1), *(dt.date(2025, 1, 28) + dt.timedelta(days=d) for d in range(8))}
)
MIN_PAGES, MAX_PAGES = 8, 20
TWO_COLUMN_SHARE = 0.2
NO_RATING_SHARE = 0.1
FIXED_PDF_DATE = "D:20250101000000+08'00'"

PAGE_W, PAGE_H = 595.0, 842.0  # A4 in points
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 56.0, 64.0, 60.0
BODY_SIZE, LEADING = 10.5, 1.55
SIDEBAR_W, SIDEBAR_SIZE, GUTTER = 160.0, 8.5, 22.0
FONT = "F0"
TITLE_MAX_EM = 29.0  # a title stays on one line at the title size
RGB = tuple[float, float, float]
BLACK: RGB = (0.0, 0.0, 0.0)
RED: RGB = (0.7, 0.0, 0.0)
NAVY: RGB = (0.09, 0.2, 0.42)
GREY: RGB = (0.45, 0.45, 0.45)
SIDEBAR_FILL: RGB = (0.93, 0.95, 0.98)

# Characters of the sample reports that Adobe-GB1 lacks, mapped to ones it has.
_GB1_FIXES = str.maketrans({"•": "·", "✓": "√", "➢": "■", "➤": "■", "\t": " "})
# Sample lines with these are header, analyst, rating or disclaimer lines, not body text.
_NOT_BODY = (
    "分析师", "联系人", "研究助理", "研究员", "执业", "评级", "日期", "证券", "研究所", "免责",
    "声明", "请务必", "来源", "http", "新浪", "版权", "APP", "@", "目录", "....", "…", "登录",
    "投资咨询", "邮箱", "买入", "增持",
)  # fmt: skip
_SAC_IN_TEXT = re.compile(r"S\s?\d{13}")
_CJK = re.compile(r"[\u4e00-\u9fff]")


# --- vocabularies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    """A broker of ``reportlake/data/brokers.csv`` that has a SAC firm code and e-mail domain."""

    name: str
    full_name: str
    sac_code: str
    email_domain: str
    english: str | None


@dataclass(frozen=True)
class Company:
    """A listed company: ``300308.SZ`` and its short name."""

    code: str
    name: str


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@cache
def brokers() -> tuple[Broker, ...]:
    """Brokers the parser can identify from their analysts' SAC numbers."""
    out = []
    for row in _read_csv("brokers.csv"):
        if not row["sac_code"] or not row["email_domains"]:
            continue
        english = [a for a in row["aliases"].split(";") if a.isascii() and a.isupper()]
        out.append(
            Broker(
                row["name"],
                row["full_name"],
                row["sac_code"],
                row["email_domains"].split(";")[0],
                english[0] if english else None,
            )
        )
    return tuple(out)


@cache
def companies() -> tuple[Company, ...]:
    """A-share companies (six-digit codes) of the bundled company list."""
    return tuple(
        Company(row["code"], row["name"])
        for row in _read_csv("companies.csv")
        if re.fullmatch(r"\d{6}\.S[HZ]", row["code"])
    )


@cache
def industries() -> tuple[str, ...]:
    """Industry names (the first, Shenwan-style block of industries.csv)."""
    names = [row["name"] for row in _read_csv("industries.csv")]
    return tuple(names[: names.index("综合") + 1] if "综合" in names else names)


# Ratings with rough shares: sell-side research rates most things buy or outperform.
RATINGS = {
    "买入": 30, "增持": 22, "推荐": 6, "强烈推荐": 5, "谨慎推荐": 3, "优于大市": 5,
    "强于大市": 5, "跑赢行业": 3, "看好": 3, "中性": 3, "持有": 3, "审慎增持": 2, "减持": 1,
}  # fmt: skip
RATING_ACTIONS = {"维持": 75, "首次覆盖": 15, "上调": 6, "下调": 4}
ACTION_NAMES = {"首次覆盖": "首次"}  # as the parser names an action printed otherwise

SURNAMES = {
    "王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang", "黄": "huang",
    "赵": "zhao", "吴": "wu", "周": "zhou", "徐": "xu", "孙": "sun", "马": "ma", "朱": "zhu",
    "胡": "hu", "郭": "guo", "何": "he", "高": "gao", "林": "lin", "罗": "luo", "郑": "zheng",
    "梁": "liang", "谢": "xie", "宋": "song", "唐": "tang", "许": "xu", "韩": "han", "冯": "feng",
    "邓": "deng", "曹": "cao", "彭": "peng", "曾": "zeng", "肖": "xiao", "田": "tian", "董": "dong",
    "袁": "yuan", "潘": "pan", "蒋": "jiang", "蔡": "cai", "余": "yu", "杜": "du", "叶": "ye",
    "程": "cheng", "苏": "su", "魏": "wei", "吕": "lv", "丁": "ding", "任": "ren", "沈": "shen",
    "姚": "yao", "卢": "lu", "姜": "jiang", "崔": "cui", "钟": "zhong", "谭": "tan", "陆": "lu",
    "汪": "wang", "范": "fan", "金": "jin", "石": "shi", "廖": "liao", "贾": "jia", "夏": "xia",
    "方": "fang", "白": "bai", "邹": "zou", "孟": "meng", "熊": "xiong", "秦": "qin", "邱": "qiu",
    "江": "jiang", "尹": "yin", "薛": "xue", "段": "duan", "雷": "lei", "侯": "hou", "史": "shi",
    "陶": "tao", "贺": "he", "顾": "gu", "毛": "mao", "郝": "hao", "龚": "gong", "邵": "shao",
    "钱": "qian", "严": "yan", "戴": "dai", "孔": "kong", "汤": "tang", "温": "wen", "康": "kang",
    "樊": "fan", "葛": "ge", "齐": "qi", "乔": "qiao", "颜": "yan", "庄": "zhuang",
    "欧阳": "ouyang",
}  # fmt: skip
GIVEN = {
    "伟": "wei", "芳": "fang", "娜": "na", "敏": "min", "静": "jing", "丽": "li", "强": "qiang",
    "磊": "lei", "军": "jun", "洋": "yang", "勇": "yong", "艳": "yan", "杰": "jie", "涛": "tao",
    "明": "ming", "超": "chao", "霞": "xia", "平": "ping", "刚": "gang", "华": "hua", "建": "jian",
    "辉": "hui", "玲": "ling", "鹏": "peng", "宇": "yu", "浩": "hao", "凯": "kai", "健": "jian",
    "俊": "jun", "帆": "fan", "旭": "xu", "宁": "ning", "琳": "lin", "晨": "chen", "欣": "xin",
    "婷": "ting", "雪": "xue", "颖": "ying", "倩": "qian", "博": "bo", "思": "si", "远": "yuan",
    "航": "hang", "昊": "hao", "泽": "ze", "瑞": "rui", "佳": "jia", "嘉": "jia", "晓": "xiao",
    "亮": "liang", "良": "liang", "卫": "wei", "海": "hai", "巡": "xun", "雅": "ya", "若": "ruo",
    "京": "jing", "昭": "zhao", "昕": "xin", "灿": "can", "志": "zhi", "桢": "zhen", "婕": "jie",
    "琦": "qi", "璐": "lu", "彬": "bin", "毅": "yi", "峰": "feng", "松": "song", "楠": "nan",
    "铭": "ming", "睿": "rui", "哲": "zhe", "逸": "yi", "辰": "chen", "薇": "wei", "蕾": "lei",
    "莹": "ying", "珊": "shan", "斌": "bin", "鑫": "xin", "骁": "xiao", "坤": "kun", "翔": "xiang",
}  # fmt: skip

COMPANY_PHRASES = (
    "业绩符合预期", "营收稳健增长", "毛利率改善明显", "新品放量在即", "海外业务加速拓展",
    "订单饱满", "产能释放提速", "盈利能力持续提升", "分红比例提升", "龙头地位稳固",
    "经营拐点已现", "费用管控良好", "现金流显著改善", "估值具备吸引力", "高端产品占比提升",
    "单季利润创新高", "研发投入加大", "渠道改革见效", "成本压力缓解", "市占率稳步提升",
    "回购彰显信心", "并购整合顺利", "短期承压不改长期逻辑", "需求回暖带动量价齐升",
)  # fmt: skip
TOPICS = (
    "AI算力需求", "国产替代", "消费复苏", "出海", "政策催化", "价格企稳", "库存周期",
    "设备更新", "以旧换新", "低空经济", "数据要素", "新型工业化", "高股息", "并购重组",
    "智能驾驶", "光模块", "储能", "创新药", "机器人", "卫星互联网", "半导体设备", "算力租赁",
)  # fmt: skip
OUTLOOKS = (
    "持续发酵", "景气上行", "拐点临近", "边际改善", "有望超预期", "关注结构性机会",
    "板块估值修复", "龙头受益", "重视配置价值", "需求韧性较强", "供需格局优化", "迎来布局窗口",
)  # fmt: skip
INDUSTRY_KINDS = ("周报", "月报", "点评", "深度报告", "专题", "跟踪")
SECTION_HEADS = (
    "事件点评", "行业动态跟踪", "公司经营分析", "盈利预测与估值", "产业链梳理", "重点数据回顾",
    "市场行情回顾", "核心逻辑", "竞争格局分析", "需求测算", "政策梳理", "投资建议",
)  # fmt: skip
FIGURE_TOPICS = (
    "主要产品收入及增速", "行业指数与沪深300走势对比", "季度毛利率变化", "下游需求结构",
    "全球市场规模预测", "产能扩张节奏", "主要原材料价格走势", "板块估值分位数", "月度出货量",
)  # fmt: skip
RISKS = (
    "下游需求不及预期", "行业竞争加剧", "原材料价格波动", "海外贸易政策变化", "技术迭代不及预期",
    "汇率波动风险", "政策落地不及预期", "产能释放不及预期", "宏观经济下行",
)  # fmt: skip


# --- what each report is -----------------------------------------------------------------------


@dataclass(frozen=True)
class Analyst:
    """One analyst as printed: ``role_label`` is the word on the page, ``role`` its canon."""

    name: str
    role_label: str
    role: str
    sac_id: str
    email: str | None


@dataclass(frozen=True)
class Related:
    """An earlier report listed under 相关报告."""

    title: str
    date: dt.date


@dataclass(frozen=True)
class ReportSpec:
    """Everything one report says in its header, and how it is laid out."""

    index: int
    file_name: str
    broker: Broker
    title: str
    kind: str  # 公司 or 行业
    industry: str
    publish_date: dt.date
    rating: str | None
    rating_label: str | None  # the action as printed (首次覆盖), None without a rating
    rating_action: str | None  # the action as the parser names it (首次)
    analysts: tuple[Analyst, ...]
    company: Company | None
    related: tuple[Related, ...]
    pages: int
    two_column: bool
    style: int  # single-column header layout, 0..2
    analyst_format: int  # how analysts are printed, 0..4
    date_format: int

    def label(self) -> dict[str, Any]:
        """The ground truth a parser should read from this report."""
        return {
            "file": self.file_name,
            "title": self.title,
            "broker": self.broker.name,
            "publish_date": self.publish_date.isoformat(),
            "rating": self.rating,
            "rating_action": self.rating_action,
            "analysts": [
                {"name": a.name, "role": a.role, "sac_id": a.sac_id, "email": a.email}
                for a in self.analysts
            ],
            "tickers": [self.company.code] if self.company else [],
            "industry": self.industry,
            "pages": self.pages,
            "two_column": self.two_column,
        }


def business_day(offset: int) -> dt.date:
    """The ``offset``-th business day from ``FIRST_DAY`` (weekends and holidays skipped)."""
    day = FIRST_DAY
    while True:
        if day.weekday() < 5 and day not in HOLIDAYS:
            if offset == 0:
                return day
            offset -= 1
        day += dt.timedelta(days=1)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _person(rng: random.Random, taken: set[str]) -> tuple[str, str]:
    """A unique Chinese name and its pinyin."""
    while True:
        surname = rng.choice(list(SURNAMES))
        given = rng.sample(list(GIVEN), rng.choice((1, 2, 2)))
        name = surname + "".join(given)
        if name not in taken and len(name) <= 4:
            taken.add(name)
            return name, SURNAMES[surname] + "".join(GIVEN[g] for g in given)


def _email(rng: random.Random, name: str, pinyin: str, broker: Broker, style: int) -> str:
    surname = next(s for s in sorted(SURNAMES, key=len, reverse=True) if name.startswith(s))
    initials = "".join(GIVEN[c][0] for c in name[len(surname) :])
    local = (pinyin, SURNAMES[surname] + initials, f"{SURNAMES[surname][0]}{initials}")[style]
    if style == 2:
        local += str(rng.randint(10000, 39999))
    return f"{local}@{broker.email_domain}"


@cache
def roster(seed: int, broker: Broker) -> tuple[Analyst, ...]:
    """A broker's research staff: the same people sign its reports across the corpus."""
    rng = random.Random(f"{seed}:roster:{broker.name}")
    style = rng.randrange(3)
    taken: set[str] = set()
    staff = []
    for k in range(36):
        name, pinyin = _person(rng, taken)
        role, kind = ("联系人", "1") if k % 6 == 5 else ("分析师", "5")
        if role == "分析师" and k % 9 == 0:
            role = "研究助理"
            kind = "1"
        year, month = rng.randint(12, 24), rng.randint(1, 12)
        sac = f"S{broker.sac_code}{kind}{year:02d}{month:02d}{k + 1:04d}"  # unique per broker
        email = (
            None
            if role == "联系人" and rng.random() < 0.4
            else _email(rng, name, pinyin, broker, style)
        )
        staff.append(Analyst(name, role, role, sac, email))
    return tuple(staff)


def _role_label(rng: random.Random, role: str, *, title_first: bool) -> str:
    """The word printed before an analyst's name.

    研究员 only where the title comes before the analysts: "研究员：欧阳思亮" has six CJK
    characters and no word the parser's title reader rejects, so it would pass for a title.
    """
    if role == "分析师":
        words = ("分析师", "分析师", "证券分析师", "首席分析师")
        return rng.choice((*words, "研究员") if title_first else words)
    return role


def _title(rng: random.Random, kind: str, industry: str, company: Company | None) -> str:
    """A one-line title: company ones name the company and code, industry ones the industry."""
    while True:
        if company:
            head = f"{company.name}（{company.code[:6]}）"
            form = rng.randrange(3)
            if form == 0:
                title = f"{head}：{rng.choice(COMPANY_PHRASES)}，{rng.choice(COMPANY_PHRASES)}"
            elif form == 1:
                year, quarter = rng.choice(((2024, "三季报"), (2024, "中报"), (2024, "前三季度")))
                title = f"{head}{year}年{quarter}点评：{rng.choice(COMPANY_PHRASES)}"
            else:
                title = f"{head}：{rng.choice(TOPICS)}{rng.choice(OUTLOOKS)}"
        else:
            form = rng.randrange(3)
            topic, outlook = rng.choice(TOPICS), rng.choice(OUTLOOKS)
            if form == 0:
                title = f"{industry}行业{rng.choice(INDUSTRY_KINDS)}：{topic}{outlook}"
            elif form == 1:
                title = f"{topic}{outlook}，{rng.choice(TOPICS)}{rng.choice(OUTLOOKS)}"
            else:
                title = f"{industry}：{topic}{outlook}，重视{rng.choice(TOPICS)}投资机会"
        if text_width(title) <= TITLE_MAX_EM:
            return title


def make_spec(seed: int, index: int) -> ReportSpec:
    """Report ``index`` of the corpus of ``seed``: a pure function of the two."""
    rng = random.Random(f"{seed}:report:{index}")
    broker = rng.choice(brokers())
    publish = business_day(index // REPORTS_PER_DAY)
    kind = "公司" if rng.random() < 0.55 else "行业"
    company = rng.choice(companies()) if kind == "公司" else None
    industry = rng.choice(industries())
    has_rating = rng.random() >= NO_RATING_SHARE
    rating = _weighted(rng, RATINGS) if has_rating else None
    action_label = _weighted(rng, RATING_ACTIONS) if has_rating else None
    two_column = rng.random() < TWO_COLUMN_SHARE
    style = house_style(broker.name, 3)
    title_first = two_column or style != 2
    people = rng.sample(roster(seed, broker), rng.choice((1, 2, 2, 3, 3, 4)))
    analysts = tuple(
        Analyst(
            a.name, _role_label(rng, a.role, title_first=title_first), a.role, a.sac_id, a.email
        )
        for a in people
    )
    related = tuple(
        Related(
            _title(rng, kind, industry, company), publish - dt.timedelta(days=rng.randint(3, 200))
        )
        for _ in range(rng.randint(1, 3))
    )
    return ReportSpec(
        index=index,
        file_name=f"{publish:%Y%m%d}_{index:05d}.pdf",
        broker=broker,
        title=_title(rng, kind, industry, company),
        kind=kind,
        industry=industry,
        publish_date=publish,
        rating=rating,
        rating_label=action_label,
        rating_action=ACTION_NAMES.get(action_label, action_label) if action_label else None,
        analysts=analysts,
        company=company,
        related=tuple(sorted(related, key=lambda r: r.date, reverse=True)),
        pages=rng.randint(MIN_PAGES, MAX_PAGES),
        two_column=two_column,
        style=style,
        analyst_format=house_style(broker.name + "analysts", 5),
        date_format=rng.randrange(4),
    )


def house_style(key: str, count: int) -> int:
    """A broker's house style: a stable choice among ``count`` (no PYTHONHASHSEED dependence)."""
    return sum(key.encode()) % count


# --- body text from the sample reports ------------------------------------------------------------


@cache
def sentences() -> tuple[str, ...]:
    """Sentences of the sample reports' body text (simplified Chinese, GB1-safe)."""
    from opencc import OpenCC

    converter = OpenCC("t2s")
    out: dict[str, None] = {}
    for path in sorted(SAMPLE_REPORTS.glob("*.txt")):
        for line in converter.convert(path.read_text(encoding="utf-8")).splitlines():
            line = line.strip().translate(_GB1_FIXES).replace("**", "").lstrip("-■·√ ")
            if len(line) < 30 or any(w in line for w in _NOT_BODY) or _SAC_IN_TEXT.search(line):
                continue
            if len(_CJK.findall(line)) < 0.5 * len(line):
                continue
            for sentence in re.findall(r"[^。]+。?", line):
                if len(sentence) >= 12:
                    out[sentence.strip()] = None
    return tuple(out)


def paragraph(rng: random.Random) -> str:
    """A paragraph of 2-6 sentences drawn from the sample reports."""
    text = "".join(rng.sample(sentences(), rng.randint(2, 6)))
    return text if text.endswith("。") else text + "。"


def _company_list(rng: random.Random, k: int) -> str:
    return "、".join(f"{c.name}（{c.code}）" for c in rng.sample(companies(), k))


# --- layout -------------------------------------------------------------------------------------


def char_width(ch: str) -> float:
    """Advance in em: half-width ASCII (the W array set on the font), full-width otherwise."""
    return 0.5 if ch < "\x80" else 1.0


def text_width(text: str) -> float:
    """Width of ``text`` in em."""
    return sum(char_width(c) for c in text)


@lru_cache(maxsize=8192)
def wrap(text: str, width_em: float) -> tuple[str, ...]:
    """Greedy character wrap (CJK has no spaces to break at).

    Measures slices rather than characters: a slice of ``k`` characters is at most ``k`` em
    wide, and its ASCII (half-width) characters are counted by encoding, so long CJK lines cost
    a few slice operations each.
    """
    lines = []
    start, n = 0, len(text)
    while start < n:
        end, room = start, width_em
        while end < n:
            take = int(room)
            if take == 0:
                if room >= 0.5 and text[end] < "\x80":
                    end, room = end + 1, room - 0.5
                    continue
                break
            chunk = text[end : end + take]
            room -= len(chunk) - 0.5 * len(chunk.encode("ascii", "ignore"))
            end += len(chunk)
        end = max(end, start + 1)
        lines.append(text[start:end])
        start = end
    return tuple(lines) or ("",)


def _hex(text: str) -> str:
    return text.encode("utf-16-be").hex()


def _rgb(color: RGB) -> str:
    return " ".join(f"{c:g}" for c in color)


class Canvas:
    """One page's content stream, written with coordinates measured from the top left."""

    def __init__(self) -> None:
        self.ops: list[str] = []

    def text(
        self, x: float, y: float, text: str, size: float = BODY_SIZE, color: RGB = BLACK
    ) -> None:
        """One line of text with its baseline at ``y``."""
        self.ops.append(
            f"BT {_rgb(color)} rg /{FONT} {size:g} Tf 1 0 0 1 {x:.2f} {PAGE_H - y:.2f} Tm "
            f"<{_hex(text)}> Tj ET"
        )

    def lines(self, x: float, y: float, lines: Sequence[str], size: float, step: float) -> None:
        """Lines one below the other, first baseline at ``y``, in one text object."""
        body = " T*\n".join(f"<{_hex(ln)}> Tj" for ln in lines)
        self.ops.append(
            f"BT 0 g /{FONT} {size:g} Tf {step:.2f} TL 1 0 0 1 {x:.2f} {PAGE_H - y:.2f} Tm\n"
            f"{body}\nET"
        )

    def rect(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        *,
        fill: RGB | None = None,
        stroke: RGB | None = None,
    ) -> None:
        """A filled and/or stroked rectangle."""
        paint = "B" if fill and stroke else "f" if fill else "S"
        colors = (f"{_rgb(fill)} rg " if fill else "") + (f"{_rgb(stroke)} RG " if stroke else "")
        self.ops.append(
            f"q {colors}0.6 w {x0:.2f} {PAGE_H - y1:.2f} {x1 - x0:.2f} {y1 - y0:.2f} re {paint} Q"
        )

    def hline(self, x0: float, x1: float, y: float, color: RGB = GREY) -> None:
        """A thin horizontal rule."""
        self.ops.append(
            f"q {_rgb(color)} RG 0.6 w {x0:.2f} {PAGE_H - y:.2f} m {x1:.2f} {PAGE_H - y:.2f} l S Q"
        )

    def content(self) -> bytes:
        """The content stream."""
        return "\n".join(self.ops).encode("ascii")


@dataclass
class Flow:
    """Places blocks top to bottom in a column, page after page, up to ``max_pages`` pages."""

    pages: list[Canvas]
    max_pages: int
    x0: float = MARGIN_X
    x1: float = PAGE_W - MARGIN_X
    y: float = MARGIN_TOP
    bottom: float = PAGE_H - MARGIN_BOTTOM
    full: bool = False

    @property
    def page(self) -> Canvas:
        return self.pages[-1]

    @property
    def width_em(self) -> float:
        return (self.x1 - self.x0) / BODY_SIZE

    def room(self, height: float) -> bool:
        """Make room for ``height`` points, on a new page if need be; False when out of pages."""
        if self.y + height <= self.bottom:
            return True
        if len(self.pages) >= self.max_pages:
            self.full = True
            return False
        self.pages.append(Canvas())
        self.x0, self.x1, self.y = MARGIN_X, PAGE_W - MARGIN_X, MARGIN_TOP + 10
        return True

    def text_lines(self, lines: Sequence[str], size: float = BODY_SIZE, gap: float = 6) -> None:
        """Lines of text, broken across pages where a page runs out."""
        step = size * LEADING
        rest = list(lines)
        while rest and self.room(step):
            fit = max(1, int((self.bottom - self.y) // step))
            chunk, rest = rest[:fit], rest[fit:]
            self.page.lines(self.x0, self.y + size, chunk, size, step)
            self.y += step * len(chunk)
        self.y += gap

    def paragraph(self, text: str, indent: bool = True) -> None:
        """A wrapped paragraph, first line indented two characters."""
        self.text_lines(wrap(("\u3000\u3000" if indent else "") + text, self.width_em))

    def heading(self, text: str, size: float = 12.5) -> None:
        """A section heading, kept with the first lines after it."""
        if self.room(size * 2 + BODY_SIZE * LEADING * 3):
            self.page.text(self.x0, self.y + size, text, size, NAVY)
            self.y += size * 2

    def figure(self, rng: random.Random, number: int, broker: Broker) -> None:
        """A captioned bar chart with its source line."""
        height = 150.0
        if not self.room(height + 48):
            return
        self.page.text(self.x0, self.y + 10, f"图{number}：{rng.choice(FIGURE_TOPICS)}", 10, NAVY)
        top = self.y + 18
        self.page.rect(self.x0, top, self.x1, top + height, stroke=GREY)
        bars = rng.randint(6, 12)
        slot = (self.x1 - self.x0 - 40) / bars
        for b in range(bars):
            h = rng.uniform(0.15, 0.9) * (height - 20)
            x = self.x0 + 20 + b * slot
            self.page.rect(x, top + height - 10 - h, x + slot * 0.6, top + height - 10, fill=NAVY)
        self.page.text(self.x0, top + height + 14, f"资料来源：Wind，{broker.name}研究所", 8, GREY)
        self.y = top + height + 26

    def table(self, rng: random.Random, number: int, broker: Broker) -> None:
        """A small earnings-forecast table with a header rule and its source line."""
        rows = rng.randint(4, 8)
        step = 9 * 1.8
        if not self.room(step * (rows + 1) + 50):
            return
        self.page.text(self.x0, self.y + 10, f"表{number}：重点公司盈利预测与估值", 10, NAVY)
        top = self.y + 18
        header = ("代码", "名称", "收盘价(元)", "EPS 2024E", "EPS 2025E", "PE 2024E", "PE 2025E")
        xs = [self.x0 + k * (self.x1 - self.x0) / len(header) for k in range(len(header))]
        self.page.rect(self.x0, top, self.x1, top + step, fill=SIDEBAR_FILL)
        for x, cell in zip(xs, header, strict=True):
            self.page.text(x + 2, top + 11, cell, 9)
        for r, company in enumerate(rng.sample(companies(), rows), start=1):
            eps = rng.uniform(0.2, 6.0)
            price = eps * rng.uniform(8, 60)
            growth = rng.uniform(1.0, 1.4)
            cells = (
                company.code,
                company.name,
                f"{price:.2f}",
                f"{eps:.2f}",
                f"{eps * growth:.2f}",
                f"{price / eps:.1f}",
                f"{price / eps / growth:.1f}",
            )
            for x, cell in zip(xs, cells, strict=True):
                self.page.text(x + 2, top + step * r + 11, cell, 9)
        bottom = top + step * (rows + 1)
        self.page.hline(self.x0, self.x1, bottom)
        self.page.text(self.x0, bottom + 12, f"资料来源：Wind，{broker.name}研究所", 8, GREY)
        self.y = bottom + 24


# --- the first page ---------------------------------------------------------------------------


def _date_text(day: dt.date, form: int) -> str:
    return (
        f"{day.year}年{day.month}月{day.day}日",
        f"{day:%Y-%m-%d}",
        f"{day:%Y.%m.%d}",
        f"{day.year} 年 {day.month:02d} 月 {day.day:02d} 日",
    )[form]


def _date_line(spec: ReportSpec) -> str:
    label = ("日期：", "发布日期：", "报告日期：", "发布时间：")[spec.index % 4]
    return label + _date_text(spec.publish_date, spec.date_format)


def _rating_line(spec: ReportSpec, form: int) -> str | None:
    if spec.rating is None:
        return None
    return (
        f"{spec.rating}（{spec.rating_label}）",
        f"投资评级：{spec.rating}（{spec.rating_label}评级）",
        f"{spec.rating}（{spec.rating_label}评级）",
    )[form]


def analyst_lines(analyst: Analyst, form: int) -> list[str]:
    """How one analyst is printed, in one of the brokers' house formats."""
    role, name, sac, email = analyst.role_label, analyst.name, analyst.sac_id, analyst.email
    mail = [email] if email else []
    if form == 0:
        return [f"{role}： {name}", *([f"E-mail: {email}"] if email else []), f"SAC 编号: {sac}"]
    if form == 1:
        return [
            f"{role}：{name}",
            f"执业证书编号：{sac}",
            *([f"联系邮箱：{email}"] if email else []),
        ]
    if form == 2:
        return [f"{role}：{name}（执业 {sac}）", *mail]
    if form == 3:
        return [f"{role}：{name}({sac})", *mail]
    return [f"{role}：{name}", f"SAC 执业证书编号：{sac}", *([f"邮箱：{email}"] if email else [])]


def _related_lines(spec: ReportSpec, inline: bool) -> list[str]:
    out = ["相关报告："]
    for r in spec.related:
        if inline:
            out.append(f"《{r.title}》{r.date:%Y-%m-%d}")
        else:
            out += [f"《{r.title}》", f"——{r.date.year} 年 {r.date.month} 月 {r.date.day} 日"]
    return out


def _kind_line(spec: ReportSpec) -> str:
    kind = "公司点评" if spec.company else f"行业{INDUSTRY_KINDS[spec.index % 4]}"
    return f"证券研究报告 · {kind}"


def _header_lines(spec: ReportSpec) -> list[tuple[str, float, RGB]]:
    """The single-column header block, top to bottom: (text, font size, colour)."""
    b = spec.broker
    analysts = [ln for a in spec.analysts for ln in analyst_lines(a, spec.analyst_format)]
    small: list[tuple[str, float, RGB]] = []
    rating0, rating1 = _rating_line(spec, 0), _rating_line(spec, 1)
    if spec.style == 0:  # 上海证券-like: broker, English name, title, rating, labelled fields
        top = [(b.name, 15, NAVY)] + ([(b.english, 9, GREY)] if b.english else [])
        small = [(f"行业： {spec.industry}", 10, BLACK), (_date_line(spec), 10, BLACK)]
        return [
            *top,
            (spec.title, 17, NAVY),
            *([(rating0, 12, RED)] if rating0 else []),
            *small,
            *((ln, 9.5, BLACK) for ln in analysts),
            *((ln, 9, BLACK) for ln in _related_lines(spec, inline=False)),
        ]
    if spec.style == 1:  # 东吴-like: title first, then date, rating and the analyst block
        return [
            (spec.title, 17, NAVY),
            (_kind_line(spec), 9, GREY),
            (_date_line(spec), 10, BLACK),
            *([(rating1, 11, RED)] if rating1 else []),
            *((ln, 9.5, BLACK) for ln in analysts),
            *((ln, 9, BLACK) for ln in _related_lines(spec, inline=True)),
        ]
    # 国金-like: industry banner, rating, report kind, the analysts, then the title
    return [
        (f"{spec.industry}行业研究", 13, NAVY),
        *([(_rating_line(spec, 2) or "", 11, RED)] if spec.rating else []),
        (_kind_line(spec), 9, GREY),
        (f"{b.name}研究所", 10, NAVY),
        *((ln, 9.5, BLACK) for ln in analysts),
        (spec.title, 17, NAVY),
        (_date_line(spec), 10, BLACK),
    ]


def _summary(rng: random.Random, spec: ReportSpec) -> list[str]:
    """The 投资要点 paragraphs: views, what to buy, and the risks."""
    views = [f"■ {paragraph(rng)}" for _ in range(rng.randint(2, 4))]
    if spec.company:
        pick = f"■ 盈利预测与投资建议：我们看好{spec.company.name}的长期成长性，"
        pick += f"相关标的：{_company_list(rng, 2)}。"
    else:
        pick = f"■ 投资建议：建议关注：{_company_list(rng, rng.randint(3, 6))}。"
    risks = "；".join(rng.sample(RISKS, rng.randint(2, 4)))
    return [*views, pick, f"■ 风险提示：{risks}。"]


def first_page_single(flow: Flow, rng: random.Random, spec: ReportSpec) -> None:
    """Header block then 投资要点, all in one column."""
    page = flow.page
    for text, size, color in _header_lines(spec):
        page.text(flow.x0, flow.y + size, text, size, color)
        flow.y += size * 1.6
    flow.y += 8
    page.hline(flow.x0, flow.x1, flow.y)
    flow.y += 10
    flow.heading("投资要点")
    for text in _summary(rng, spec):
        flow.paragraph(text, indent=False)


def _sidebar_lines(spec: ReportSpec) -> list[str]:
    """Rating, analysts, market data and related reports for the narrow column."""
    form = (0, 1, 4)[spec.analyst_format % 3]
    lines = [*([_rating_line(spec, 0) or ""] if spec.rating else []), ""]
    for a in spec.analysts:
        lines += analyst_lines(a, form)
    if spec.company:
        price = random.Random(spec.title).uniform(5, 200)
        lines += ["", "市场数据", f"股票代码：{spec.company.code}", f"收盘价(元)：{price:.2f}"]
        lines += [f"一年最低/最高价：{price * 0.7:.2f}/{price * 1.3:.2f}"]
    lines += ["", "相关研究"]
    for r in spec.related:
        lines += [*wrap(f"《{r.title}》", SIDEBAR_W / SIDEBAR_SIZE), f"{r.date:%Y-%m-%d}"]
    return lines


def first_page_two_column(flow: Flow, rng: random.Random, spec: ReportSpec) -> None:
    """Title across the page; below it a sidebar (left or right) beside the 投资要点 column.

    Half of these write the two columns' lines interleaved in baseline order, as some report
    generators do, so only the block geometry separates them.
    """
    page = flow.page
    page.text(flow.x0, flow.y + 12, spec.broker.name + "研究所", 12, NAVY)
    page.text(flow.x1 - 9 * 12, flow.y + 12, _kind_line(spec)[-4:], 9, GREY)
    flow.y += 22
    # Centred title and a full-width date line: both cross the gutter, so the extractor reads
    # them before either column.
    centre = (flow.x0 + flow.x1) / 2
    page.text(centre - text_width(spec.title) * 17 / 2, flow.y + 17, spec.title, 17, NAVY)
    flow.y += 30
    date_line = f"{_date_line(spec)}　　{_kind_line(spec)}"
    page.text(centre - text_width(date_line) * 10 / 2, flow.y + 10, date_line, 10)
    flow.y += 20
    page.hline(flow.x0, flow.x1, flow.y)
    flow.y += 10
    left = rng.random() < 0.5
    side_x0 = flow.x0 if left else flow.x1 - SIDEBAR_W
    main_x0, main_x1 = (
        (flow.x0 + SIDEBAR_W + GUTTER, flow.x1) if left else (flow.x0, flow.x1 - SIDEBAR_W - GUTTER)
    )
    side_step = SIDEBAR_SIZE * 1.5
    side = _sidebar_lines(spec)
    page.rect(
        side_x0 - 4, flow.y - 4, side_x0 + SIDEBAR_W + 4, flow.y + side_step * len(side) + 6,
        fill=SIDEBAR_FILL,
    )  # fmt: skip
    placed = [(flow.y + SIDEBAR_SIZE + k * side_step, side_x0, ln, SIDEBAR_SIZE)
              for k, ln in enumerate(side) if ln]  # fmt: skip
    main_w = (main_x1 - main_x0) / BODY_SIZE
    y = flow.y + 12.5
    placed.append((y, main_x0, "投资要点", 12.5))
    y += 14
    for text in _summary(rng, spec):
        for ln in wrap(text, main_w):
            y += BODY_SIZE * LEADING
            placed.append((y, main_x0, ln, BODY_SIZE))
        y += 6
    if rng.random() < 0.5:
        placed.sort(key=lambda p: (p[0], p[1]))
    for py, px, text, size in placed:
        page.text(px, py, text, size, NAVY if size > BODY_SIZE else BLACK)
    flow.y = max(y, flow.y + side_step * len(side)) + 16


# --- the rest ------------------------------------------------------------------------------------


def body(flow: Flow, rng: random.Random, spec: ReportSpec) -> None:
    """Numbered sections of paragraphs, charts and tables until the pages run out."""
    figures = tables = 0
    for number in range(1, 100):
        if flow.full:
            return
        flow.heading(f"{number} {rng.choice(SECTION_HEADS)}")
        for _ in range(rng.randint(3, 7)):
            if flow.full:
                return
            roll = rng.random()
            if roll < 0.12:
                figures += 1
                flow.figure(rng, figures, spec.broker)
            elif roll < 0.2:
                tables += 1
                flow.table(rng, tables, spec.broker)
            else:
                flow.paragraph(paragraph(rng))


def disclaimer(spec: ReportSpec) -> Canvas:
    """The last page: analyst statement, rating definitions and the legal notice."""
    page = Canvas()
    flow = Flow([page], max_pages=1)
    b = spec.broker
    flow.heading("分析师声明")
    flow.paragraph(
        "作者具有中国证券业协会授予的证券投资咨询执业资格，以勤勉尽责的职业态度，独立、客观地"
        "出具本报告，并保证报告采用的信息均来自合规渠道，结论不受任何第三方的授意或影响。"
    )
    flow.heading("投资评级说明")
    for line in (
        "买入：预期未来6个月内，个股相对同期基准指数涨幅在20%以上；",
        "增持：预期未来6个月内，个股相对同期基准指数涨幅介于5%与20%之间；",
        "中性：预期未来6个月内，个股相对同期基准指数涨幅介于-5%与5%之间；",
        "减持：预期未来6个月内，个股相对同期基准指数跌幅在5%以上。",
        "看好：预期未来6个月内，行业整体回报高于同期基准指数5%以上。",
    ):
        flow.paragraph(line, indent=False)
    flow.heading("免责声明")
    flow.paragraph(
        f"本报告由{b.full_name}（以下简称“本公司”）制作，仅供本公司的客户使用。本公司不会因"
        "接收人收到本报告而视其为客户。本报告所载的资料、意见及推测仅反映本公司于发布本报告当日"
        "的判断，在不同时期，本公司可发出与本报告所载资料、意见及推测不一致的报告。"
    )
    flow.paragraph(
        f"本报告版权归{b.full_name}所有，未经书面许可，任何机构和个人不得翻版、复制和发布。"
    )
    return page


def furnish(pages: Sequence[Canvas], spec: ReportSpec) -> None:
    """Running header (not on the cover), footer and page number."""
    kind = "公司研究" if spec.company else "行业研究"
    for number, page in enumerate(pages, start=1):
        if number > 1:
            page.text(MARGIN_X, 40, f"{spec.broker.name} · {kind}", 8, GREY)
            page.hline(MARGIN_X, PAGE_W - MARGIN_X, 46)
        page.text(MARGIN_X, PAGE_H - 30, "请务必阅读正文之后的免责声明部分", 8, GREY)
        page.text(PAGE_W - MARGIN_X - 12, PAGE_H - 30, str(number), 8, GREY)


def render_pages(spec: ReportSpec, seed: int) -> list[Canvas]:
    """Every page of a report, ``spec.pages`` of them."""
    rng = random.Random(f"{seed}:body:{spec.index}")
    flow = Flow([Canvas()], max_pages=spec.pages - 1)
    if spec.two_column:
        first_page_two_column(flow, rng, spec)
    else:
        first_page_single(flow, rng, spec)
    body(flow, rng, spec)
    pages = [*flow.pages, disclaimer(spec)]
    furnish(pages, spec)
    return pages


def _new_object(doc: pymupdf.Document, source: str) -> int:
    xref: int = doc.get_new_xref()
    doc.update_object(xref, source)
    return xref


def add_font(doc: pymupdf.Document) -> int:
    """PyMuPDF's ``china-s`` font (Adobe-GB1, not embedded) with half-width Latin glyphs.

    The same three objects ``page.insert_font(fontname="china-s")`` writes, plus a W array
    (CIDs 1-95, the ASCII range, 500/1000 em wide), without its cost of loading the font file
    (several milliseconds a document). Returns the xref of the Type0 font.
    """
    descriptor = _new_object(
        doc,
        "<</Type/FontDescriptor/FontName/Heiti/FontBBox[-200 -200 1200 1200]/Flags 4"
        "/ItalicAngle 0/Ascent 1000/Descent -200/StemV 80>>",
    )
    cid_font = _new_object(
        doc,
        "<</Type/Font/Subtype/CIDFontType0/BaseFont/Heiti"
        "/CIDSystemInfo<</Registry(Adobe)/Ordering(GB1)/Supplement 5>>"
        f"/FontDescriptor {descriptor} 0 R/W[1 95 500]>>",
    )
    return _new_object(
        doc,
        "<</Type/Font/Subtype/Type0/BaseFont/Heiti/Encoding/UniGB-UTF16-H"
        f"/DescendantFonts[{cid_font} 0 R]>>",
    )


def to_pdf(pages: Sequence[Canvas], spec: ReportSpec) -> pymupdf.Document:
    """Assemble the pages with one shared CJK font, fixed metadata and no document id."""
    doc = pymupdf.open()
    doc.set_metadata(
        {
            "title": spec.title,
            "author": spec.broker.full_name,
            "creator": "reportlake bench corpus",
            "producer": "PyMuPDF",
            "creationDate": FIXED_PDF_DATE,
            "modDate": FIXED_PDF_DATE,
        }
    )
    resources = f"<</Font<</{FONT} {add_font(doc)} 0 R>>>>"
    parent = ""
    for canvas in pages:
        page = doc.new_page(width=PAGE_W, height=PAGE_H).xref
        parent = parent or doc.xref_get_key(page, "Parent")[1]
        stream = _new_object(doc, "<<>>")
        doc.update_stream(stream, canvas.content())
        doc.update_object(
            page,
            f"<</Type/Page/MediaBox[0 0 {PAGE_W:g} {PAGE_H:g}]/Parent {parent}"
            f"/Resources{resources}/Contents {stream} 0 R>>",
        )
    return doc


SAVE_OPTIONS: dict[str, Any] = {"garbage": 1, "deflate": True, "no_new_id": True}


def render(spec: ReportSpec, seed: int) -> bytes:
    """The PDF bytes of one report."""
    with to_pdf(render_pages(spec, seed), spec) as doc:
        data: bytes = doc.tobytes(**SAVE_OPTIONS)
    return data


def render_to(spec: ReportSpec, seed: int, path: Path) -> int:
    """Write one report's PDF to ``path`` (MuPDF writes the file itself); its size in bytes."""
    with to_pdf(render_pages(spec, seed), spec) as doc:
        doc.save(path, **SAVE_OPTIONS)
    return path.stat().st_size


# --- the corpus ---------------------------------------------------------------------------------


@dataclass
class CorpusStats:
    """What a generation wrote and how long it took."""

    n: int
    pages: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        """One line for a terminal."""
        if not self.n:
            return "0 reports"
        return (
            f"{self.n} reports, {sum(self.pages) / self.n:.1f} pages "
            f"({min(self.pages)}-{max(self.pages)}), {sum(self.sizes) / self.n / 1024:.0f} KiB "
            f"per PDF, {self.seconds / self.n * 1000:.1f} ms per report ({self.seconds:.1f} s)"
        )


def _write_range(args: tuple[str, int, int, int]) -> list[tuple[int, int]]:
    """Write reports ``start..stop`` of a corpus; (pages, bytes) of each."""
    out_dir, seed, start, stop = args
    pymupdf.TOOLS.mupdf_display_errors(False)
    out = []
    for index in range(start, stop):
        spec = make_spec(seed, index)
        out.append((spec.pages, render_to(spec, seed, Path(out_dir) / spec.file_name)))
    return out


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def generate(out_dir: Path, n: int, seed: int = 0, *, workers: int | None = None) -> list[Path]:
    """Render ``n`` reports into ``out_dir``; the PDF paths in report order.

    Deterministic: the same ``seed`` writes the same bytes. ``workers`` processes render in
    parallel (default: all cores, one process for small corpora).
    """
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER_FILE).unlink(missing_ok=True)
    specs = [make_spec(seed, i) for i in range(n)]
    workers = workers or (os.cpu_count() or 1)
    jobs = [(str(out_dir), seed, a, b) for a, b in _chunks(n, max(25, n // (workers * 8) or 1))]
    if workers > 1 and n >= 100:
        sentences()  # built once here, inherited by the forked workers
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = [r for chunk in pool.map(_write_range, jobs) for r in chunk]
    else:
        results = [r for job in jobs for r in _write_range(job)]
    stats = CorpusStats(n, [p for p, _ in results], [s for _, s in results])
    stats.seconds = time.perf_counter() - started
    with (out_dir / LABELS_FILE).open("w", encoding="utf-8") as f:
        for spec in specs:
            f.write(json.dumps(spec.label(), ensure_ascii=False) + "\n")
    marker = {"n": n, "seed": seed, "version": GENERATOR_VERSION, **asdict(stats)}
    marker.pop("pages"), marker.pop("sizes")
    marker["describe"] = stats.describe()
    (out_dir / MARKER_FILE).write_text(json.dumps(marker, ensure_ascii=False, indent=1) + "\n")
    return [out_dir / spec.file_name for spec in specs]


def is_complete(out_dir: Path, n: int, seed: int) -> bool:
    """Whether ``out_dir`` holds a finished corpus of ``n`` reports of ``seed``."""
    try:
        marker = json.loads((out_dir / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = (marker.get("n"), marker.get("seed"), marker.get("version"))
    return same == (n, seed, GENERATOR_VERSION) and len(list(out_dir.glob("*.pdf"))) == n


def ensure(out_dir: Path, n: int, seed: int = 0) -> list[Path]:
    """The corpus in ``out_dir``, generated only if it is not there complete already."""
    if is_complete(out_dir, n, seed):
        return sorted(out_dir.glob("*.pdf"))
    for stale in out_dir.glob("*.pdf"):
        stale.unlink()
    return generate(out_dir, n, seed)


def load_labels(out_dir: Path) -> list[dict[str, Any]]:
    """The ground truth written beside a corpus, in report order."""
    with (out_dir / LABELS_FILE).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def disagreements(label: dict[str, Any], parsed: Any) -> list[str]:
    """Fields where reportlake's ``ParsedReport`` differs from the label (empty: agreement)."""
    got = {
        "title": parsed.title,
        "broker": parsed.broker,
        "publish_date": parsed.publish_date.isoformat() if parsed.publish_date else None,
        "rating": parsed.rating,
        "rating_action": parsed.rating_action,
        "analysts": [
            {"name": a.name, "role": a.role, "sac_id": a.sac_id, "email": a.email}
            for a in parsed.analysts
        ],
    }
    return [f"{k}: {got[k]!r} != {label[k]!r}" for k in got if got[k] != label[k]]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m bench.corpus OUT_DIR --n N --seed S``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n", type=int, default=200, help="reports to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    args = parser.parse_args(argv)
    generate(args.out_dir, args.n, args.seed, workers=args.workers)
    marker = json.loads((args.out_dir / MARKER_FILE).read_text(encoding="utf-8"))
    print(f"{args.out_dir}: {marker['describe']}")


if __name__ == "__main__":
    main()
