"""Read a research report's fields from its text: ``parse_text(text) -> ParsedReport``.

The text is first brought into one canonical form (``normalize``); then each field has its own
reader. Nothing here loads models or touches the network; converters, vocabularies and regexes are
built once per process.
"""

from __future__ import annotations

from collections.abc import Mapping

from reportlake.models import ParsedReport
from reportlake.parsing.analysts import extract_analysts
from reportlake.parsing.broker import identify_broker
from reportlake.parsing.dates import publish_date
from reportlake.parsing.names import NameIndex
from reportlake.parsing.normalize import Prepared, prepare
from reportlake.parsing.rating import extract_rating
from reportlake.parsing.recommended import extract_recommended
from reportlake.parsing.sections import extract_related, extract_risks
from reportlake.parsing.tickers import extract_tickers
from reportlake.parsing.title import extract_industry, extract_report_type, extract_title
from reportlake.vocab import bundled_codes

__all__ = ["Prepared", "parse_text", "prepare"]


def parse_text(
    text: str,
    *,
    security_master: Mapping[str, str] | None = None,
    bundled_master: bool = True,
) -> ParsedReport:
    """Parse one report's extracted text into a ``ParsedReport``.

    Args:
        text: the report text (PDF text, a web repost, or a dump with all whitespace stripped).
        security_master: optional ticker -> company name mapping; its names help split
            run-together company lists and name tickers printed without one.
        bundled_master: also use the bundled dictionary of large listed companies
            (``reportlake/data/companies.csv``). Off, names come only from the report itself
            and ``security_master``; the evaluation runs both ways.
    """
    prep = prepare(text)
    analysts = extract_analysts(prep.text)
    broker, warnings = identify_broker(prep.head(), analysts)
    title = extract_title(prep)
    date, date_source = publish_date(prep)
    rating = extract_rating(prep.body)
    # A ticker printed without a name is named from the user's master, else the bundled one.
    bundled_names: Mapping[str, str] = bundled_codes() if bundled_master else {}
    names_by_code = {**bundled_names, **security_master} if security_master else bundled_names
    tickers = extract_tickers(prep.body, names_by_code, stripped=prep.stripped)

    index = NameIndex(security_master, (t.name for t in tickers if t.name), bundled=bundled_master)
    index.learn_from_text(prep.body)
    return ParsedReport(
        title=title,
        broker=broker,
        publish_date=date,
        publish_date_source=date_source,
        industry=extract_industry(prep, title),
        report_type=extract_report_type(prep, title),
        rating=rating.word if rating else None,
        rating_level=rating.level if rating else None,
        rating_action=rating.action if rating else None,
        script=prep.script,
        analysts=analysts,
        related_reports=extract_related(prep.body),
        tickers=tickers,
        recommended=extract_recommended(prep.body, index),
        risks=extract_risks(prep.body, structured=not prep.stripped),
        warnings=warnings,
    )


def _warm_up() -> None:
    """Build vocabularies and patterns at import: the first report parses as fast as the rest."""
    parse_text("上海证券\n电子行业周报：甲乙科技（600000.SH）\n建议关注：甲乙科技、丙丁股份。")


_warm_up()
