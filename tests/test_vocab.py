"""The vocabulary tables: brokers (SAC firm codes, e-mail domains, aliases) and rating levels."""

from __future__ import annotations

import re

import pytest

from reportlake import vocab


@pytest.mark.parametrize(
    ("code", "name", "domain"),
    [
        ("0870", "上海证券", "shzq.com"),
        ("0760", "山西证券", None),
        ("0210", "华福证券", "hfzq.com.cn"),
        ("1130", "国金证券", "gjzq.com.cn"),
        ("0600", "东吴证券", "dwzq.com.cn"),
    ],
)
def test_required_brokers_have_their_code_and_domain(
    code: str, name: str, domain: str | None
) -> None:
    broker = vocab.broker_by_sac_code(code)
    assert broker is not None and broker.name == name
    if domain:
        assert domain in broker.email_domains
        assert vocab.broker_by_email_domain(f"someone@{domain}") == broker


def test_broker_by_full_sac_id_and_subdomain() -> None:
    assert vocab.broker_by_sac_code("S0870523040005").name == "上海证券"  # type: ignore[union-attr]
    assert vocab.broker_by_email_domain("a@research.gjzq.com.cn").name == "国金证券"  # type: ignore[union-attr]
    assert vocab.broker_by_sac_code("9999") is None
    assert vocab.broker_by_email_domain("a@example.com") is None


def test_broker_by_alias_and_full_name() -> None:
    assert vocab.broker_by_alias("山西证券股份有限公司").name == "山西证券"  # type: ignore[union-attr]
    assert vocab.broker_by_alias("安信证券").name == "国投证券"  # type: ignore[union-attr]
    assert vocab.broker_by_alias("shanghai securities").name == "上海证券"  # type: ignore[union-attr]


def test_broker_table_is_consistent() -> None:
    names = vocab.broker_names()
    assert len(names) == len(set(names)) >= 40
    codes = [b.sac_code for b in vocab.brokers() if b.sac_code]
    assert len(codes) == len(set(codes)), "a SAC firm code belongs to one broker"
    assert all(re.fullmatch(r"\d{4}", c) for c in codes)
    domains = [d for b in vocab.brokers() for d in b.email_domains]
    assert len(domains) == len(set(domains))
    assert all(re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", d) for d in domains)


def test_rating_vocabulary_covers_documented_wordings() -> None:
    levels = vocab.rating_levels()
    documented = {
        *("买入", "增持", "持有", "中性", "减持", "卖出", "强烈推荐", "推荐", "谨慎推荐"),
        *("审慎增持", "回避", "强于大市", "同步大市", "跟随大市", "弱于大市", "领先大市"),
        *("落后大市", "优于大市", "超配", "标配", "低配", "看好", "看淡", "谨慎增持"),
        *("优于行业", "同步行业"),
    }
    assert documented <= set(levels)
    assert set(levels.values()) == {1, 2, 3, 4, 5}
    assert levels["买入"] == 5 and levels["增持"] == 4 and levels["中性"] == 3
    assert levels["减持"] == 2 and levels["卖出"] == 1
    assert levels["强于大市"] == 4 and levels["弱于大市"] == 2 and levels["超配"] == 4
    assert vocab.rating_words() == list(levels)


def test_company_dictionary_codes_are_normalised_tickers() -> None:
    pattern = re.compile(r"\d{6}\.(SH|SZ|BJ|KS)|\d{4}\.(HK|TW)|[A-Z]{1,6}\.(O|N)")
    for company in vocab.companies():
        assert pattern.fullmatch(company.code), company
    assert vocab.company_names()["腾讯"] == "0700.HK"
    # a name listed in several markets maps to its A-share line first
    assert vocab.company_names()["中国移动"] == "600941.SH"
    assert vocab.bundled_codes()["NVDA.O"] == "英伟达"


def test_company_dictionary_is_a_broad_master_ordered_by_market_and_code() -> None:
    companies = vocab.companies()
    codes = [c.code for c in companies]
    assert len(codes) == len(set(codes)) >= 500
    market = {"SH": 0, "SZ": 0, "BJ": 0, "HK": 1, "O": 2, "N": 2, "TW": 3, "KS": 4}

    def key(code: str) -> tuple[int, str]:
        number, exchange = code.split(".")
        return market[exchange], number

    assert codes == sorted(codes, key=key)
    exchanges = {c.split(".")[1] for c in codes}
    assert {"SH", "SZ", "HK", "O", "N", "TW", "KS"} <= exchanges
    # sectors beyond the seed reports' TMT names: banks, liquor, energy, autos
    assert {"招商银行", "贵州茅台", "中国神华", "比亚迪", "宁德时代"} <= set(vocab.company_names())


def test_industries_surnames_and_lexicon_load() -> None:
    assert {"通信", "电子", "传媒", "计算机"} <= set(vocab.industries())
    assert {"王", "欧阳"} <= vocab.surnames()
    assert "风险提示" in vocab.words("risk_headings")
    long_first = vocab.words("recommend_cues")
    assert [len(w) for w in long_first] == sorted((len(w) for w in long_first), reverse=True)
