"""The HTML validation report: valid, self-contained, numbers equal the API's, bad input refused."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clvmodels.data.summary import rfm_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import InvalidTransactionsError
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.gamma_gamma import GammaGamma
from clvmodels.report import SECTIONS, validation_report

html5lib = pytest.importorskip("html5lib")
NS = "{http://www.w3.org/1999/xhtml}"
CAL, OBS = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def cdnow_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    out = validation_report(load_cdnow_transactions(), calibration_end=CAL, observation_end=OBS,
                            path=path)
    return out


@pytest.fixture(scope="module")
def doc(cdnow_report):
    parser = html5lib.HTMLParser(strict=True)
    return parser.parse(cdnow_report.read_bytes())


def _text(el) -> str:
    return "".join(el.itertext()).strip()


def _table_values(doc, table_id) -> dict:
    """{row header: [data-value floats]} of the table with this id."""
    table = next(t for t in doc.iter(NS + "table") if t.get("id") == table_id)
    rows = {}
    for tr in table.iter(NS + "tr"):
        th = tr.find(NS + "th")
        tds = tr.findall(NS + "td")
        if th is not None and tds:
            rows[_text(th)] = [float(td.get("data-value")) for td in tds]
    return rows


@pytest.mark.slow
def test_report_parses_strictly_and_reports_size(cdnow_report, doc):
    size = cdnow_report.stat().st_size
    print(f"CDNOW report: {size / 1e6:.2f} MB")  # size reported in the test log (-s)
    assert 50_000 < size < 5_000_000
    assert doc.find(f"{NS}body") is not None


@pytest.mark.slow
def test_every_section_heading_present(doc):
    headings = {h.get("id"): _text(h) for h in doc.iter(NS + "h2")}
    for section_id, title in SECTIONS:
        assert headings.get(section_id) == title


@pytest.mark.slow
def test_self_contained(doc, cdnow_report):
    images = list(doc.iter(NS + "img"))
    assert len(images) >= 10
    for img in images:
        assert img.get("src", "").startswith("data:image/png;base64,")
        assert img.get("alt")
    for el in doc.iter():
        for attr in ("src", "href"):
            value = el.get(attr)
            if value is not None:
                assert not re.match(r"\s*(https?:)?//", value), value
    raw = cdnow_report.read_text()
    assert "<script" not in raw and "<link" not in raw and "@import" not in raw


@pytest.mark.slow
def test_bgnbd_parameters_equal_the_fitted_model_and_the_paper(doc):
    summary = rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end=CAL,
                          observation_end=OBS, time_unit="W")
    model = BGNBD().fit(summary[["frequency", "recency", "T"]])
    shown = _table_values(doc, "params-bgnbd")
    table = model.summary()
    for name in ("r", "alpha", "a", "b"):
        est, se, lo, hi = shown[name]
        assert est == pytest.approx(model.params_[name], rel=1e-6)
        assert se == pytest.approx(table.loc[name, "std_error"], rel=1e-4)
        assert lo < est < hi
    # Fader, Hardie & Lee (2005): r=0.243 alpha=4.414 a=0.793 b=2.426, LL=-9582.4
    for name, published in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert shown[name][0] == pytest.approx(published, abs=1e-3)
    text = _text(doc.find(f"{NS}body"))
    assert "-9,582.429" in text
    gg = GammaGamma().fit(summary[summary["frequency"] > 0])
    shown_gg = _table_values(doc, "params-gamma_gamma")
    for name, published in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert shown_gg[name][0] == pytest.approx(gg.params_[name], rel=1e-5)
        assert shown_gg[name][0] == pytest.approx(published, abs=0.01)


@pytest.mark.slow
def test_chi_square_recomputed_from_the_displayed_cells(doc):
    cells = _table_values(doc, "chisq-bgnbd")
    actual = np.array([v[0] for v in cells.values()])
    expected = np.array([v[1] for v in cells.values()])
    assert actual.sum() == 2357
    assert expected.sum() == pytest.approx(2357)
    assert np.all(expected >= 5)
    stat = float(np.sum((actual - expected) ** 2 / expected))
    df = len(actual) - 1 - 4
    p = stats.chi2.sf(stat, df)
    text = _text(doc.find(f"{NS}body"))
    assert f"chi-square = {stat:.2f} on {df} degrees of freedom" in text
    assert p > 0


@pytest.mark.slow
def test_people_read_display_names_not_keys(doc):
    # cells joined with spaces: adjacent headers "... + Gamma-Gamma" and "Gamma-Gompertz/NBD"
    # must not read as one word "Gamma-GammaGamma-Gompertz"
    sections = {s.find(NS + "h2").get("id"): " ".join(s.itertext())
                for s in doc.iter(NS + "section")}
    read = " ".join(t for sid, t in sections.items() if sid != "reproducibility")
    for name in ("BG/NBD", "Pareto/NBD", "MBG/NBD", "Gamma-Gamma", "BG/NBD + Gamma-Gamma",
                 "Pareto/NBD + Gamma-Gamma", "MBG/NBD + Gamma-Gamma"):
        assert name in read, name
    # machine names stay out of what people read: registry keys and class names
    for raw in ("bgnbd", "paretonbd", "mbgnbd", "gamma_gamma",
                "BGNBD", "ParetoNBD", "MBGNBD", "GammaGamma"):
        assert re.search(rf"\b{raw}\b", read) is None, raw
    assert "bgnbd (BGNBD)" not in read
    headings = [_text(h) for h in doc.iter(NS + "h3")]
    assert "BG/NBD, fitted on the calibration period" in headings
    assert "Spend model: Gamma-Gamma (repeat customers)" in headings
    # the reproducibility block keeps the names one types in the call
    assert "bgnbd" in sections["reproducibility"]


@pytest.mark.slow
def test_data_facts_match_the_literature(doc):
    text = _text(doc.find(f"{NS}body"))
    # 2,357 customers, 2,457 repeat transactions in calibration, 1,882 in the holdout
    assert "2,357" in text and "2,457" in text and "1,882" in text


def _small_log():
    return pd.DataFrame({
        "customer_id": [1, 1, 2, 2, 3],
        "date": ["2020-01-01", "2020-02-01", "2020-01-05", "not a date", "2020-01-09"],
        "amount": [10.0, -5.0, 3.0, 4.0, 2.0],
    })


def test_bad_input_refused_and_nothing_written(tmp_path):
    out = tmp_path / "report.html"
    with pytest.raises(InvalidTransactionsError) as info:
        validation_report(_small_log(), calibration_end="2020-03-01",
                          observation_end="2020-06-01", path=out)
    problems = " ".join(info.value.problems)
    assert "not dates" in problems and "negative" in problems
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_bad_input_leaves_a_stale_report_untouched(tmp_path):
    out = tmp_path / "report.html"
    out.write_text("previous report")
    with pytest.raises(InvalidTransactionsError):
        validation_report(_small_log(), calibration_end="2020-03-01",
                          observation_end="2020-06-01", path=out)
    assert out.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_file_input_fingerprint_and_command_line(tmp_path):
    import hashlib

    log = load_cdnow_transactions()
    src = tmp_path / "log.csv"
    log.to_csv(src, index=False)
    out = validation_report(src, calibration_end=CAL, observation_end=OBS, methods=["bgnbd"],
                            n_splits=1, path=tmp_path / "r.html",
                            command="clvmodels report log.csv --out r.html")
    raw = out.read_text()
    assert hashlib.sha256(src.read_bytes()).hexdigest() in raw
    assert "clvmodels report log.csv --out r.html" in raw
    assert "validation_report(" in raw
    html5lib.HTMLParser(strict=True).parse(out.read_bytes())


def test_fingerprint_sees_one_changed_amount():
    from clvmodels.report import data_fingerprint

    log = load_cdnow_transactions()
    same = data_fingerprint(log.copy(), "customer_id", "date", "amount")
    assert same == data_fingerprint(log.assign(extra=1), "customer_id", "date", "amount")
    changed = log.copy()
    changed.loc[10, "amount"] += 0.01
    assert data_fingerprint(changed, "customer_id", "date", "amount") != same


def test_report_without_a_probabilistic_model(tmp_path):
    out = validation_report(load_cdnow_transactions(), calibration_end=CAL, observation_end=OBS,
                            methods=["own_rate", "zero"], n_splits=1, path=tmp_path / "r.html")
    doc = html5lib.HTMLParser(strict=True).parse(out.read_bytes())
    text = _text(doc.find(f"{NS}body"))
    assert "No probabilistic model is among the compared methods." in text
    assert {h.get("id") for h in doc.iter(NS + "h2")} >= {sid for sid, _ in SECTIONS}


@pytest.mark.slow
def test_the_report_opens_with_the_verdict(doc):
    headings = [h.get("id") for h in doc.iter(NS + "h2") if h.get("id") != "contents"]
    assert headings[0] == "verdict" and headings.index("verdict") < headings.index("data")
    table = next(t for t in doc.iter(NS + "table") if t.get("id") == "verdict")
    text = _text(table)
    for decision in ("budgeting: total revenue", "targeting: who spends most",
                     "valuation: transactions per customer"):
        assert decision in text
    assert "bgnbd" not in text.split()  # people read display names


@pytest.mark.slow
def test_the_distribution_scores_match_the_api(doc):
    from clvmodels.evaluation.harness import compare
    from clvmodels.evaluation.scores import distribution_scores

    values = _table_values(doc, "distribution-scores")
    assert {"BG/NBD + Gamma-Gamma", "Pareto/NBD + Gamma-Gamma"} <= set(values)
    res = compare(load_cdnow_transactions(), ["bgnbd"], calibration_end=CAL,
                  observation_end=OBS)
    ours = distribution_scores(res)["table"].loc["bgnbd", "mean_rps"]
    assert values["BG/NBD + Gamma-Gamma"][0] == pytest.approx(ours, rel=1e-9)


@pytest.mark.slow
def test_the_tracking_errors_match_the_api(doc):
    from clvmodels.evaluation.harness import compare

    values = _table_values(doc, "tracking-errors")
    res = compare(load_cdnow_transactions(), ["bgnbd"], calibration_end=CAL,
                  observation_end=OBS)
    ours = res.tracking().attrs["summary"].loc["bgnbd"]
    assert values["BG/NBD + Gamma-Gamma"][0] == pytest.approx(ours["mae"], rel=1e-9)
    assert values["BG/NBD + Gamma-Gamma"][3] == pytest.approx(
        ours["final_cumulative_error_pct"], rel=1e-9)
