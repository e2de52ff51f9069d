"""``clvmodels funnel EVENTS --out funnel.csv``: the table and the lead values from the shell."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from clvmodels.funnel import funnel_table, new_customer_value, simulate_funnel


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "clvmodels.cli", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def events_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("funnel") / "events.csv"
    log = simulate_funnel(600, channels={"ads": 2, "referral": 1}, random_state=0)
    log.rename(columns={"lead_id": "who"}).to_csv(path, index=False)
    return path


def test_funnel_table_file_equals_the_python_table(tmp_path, events_csv):
    out = tmp_path / "funnel.csv"
    res = run_cli("funnel", str(events_csv), "--lead-id", "who", "--out", str(out))
    assert res.returncode == 0, res.stderr
    got = pd.read_csv(out).set_index("stage")
    log = pd.read_csv(events_csv)
    expected = funnel_table(log, lead_id="who")
    assert list(got.index) == list(expected.index)
    for col in ("entered", "moved_on", "open", "conversion", "conversion_lower", "p_customer"):
        np.testing.assert_allclose(got[col].to_numpy(float), expected[col].to_numpy(float),
                                   rtol=1e-12)
    assert "opportunity" in res.stdout and "conversion" in res.stdout
    assert "Lead values" not in res.stdout


def test_lead_values_from_a_number_and_from_a_model_file(tmp_path, events_csv):
    from clvmodels.bundle import ModelBundle
    from clvmodels.models import BGNBD, GammaGamma

    values = tmp_path / "values.parquet"
    res = run_cli("funnel", str(events_csv), "--lead-id", "who", "--out",
                  str(tmp_path / "f.parquet"), "--clv", "900", "--target-ratio", "3",
                  "--values-out", str(values))
    assert res.returncode == 0, res.stderr
    assert "Lead values (customer value 900.00 from --clv" in res.stdout
    table = pd.read_parquet(values).set_index("stage")
    assert table.loc["customer", "max_cost_per_lead"] == pytest.approx(300.0)

    bgnbd = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    model = tmp_path / "model.json"
    ModelBundle(bgnbd, gg, time_unit="W", calibration_end="1997-09-30").save(model)
    res = run_cli("funnel", str(events_csv), "--lead-id", "who", "--out",
                  str(tmp_path / "f.csv"), "--model", str(model), "--horizon", "52",
                  "--discount-rate", "0.002", "--values-out", str(tmp_path / "v.csv"))
    assert res.returncode == 0, res.stderr
    clv = new_customer_value(bgnbd, gg, horizon=52, discount_rate=0.002)
    got = pd.read_csv(tmp_path / "v.csv").set_index("stage")
    assert got.loc["customer", "customer_value"] == pytest.approx(clv, rel=1e-12)
    assert "BGNBD new-customer CLV over 52 W" in res.stdout


def test_user_errors_exit_2_with_one_message_and_no_file(tmp_path, events_csv):
    out = tmp_path / "funnel.csv"
    res = run_cli("funnel", str(events_csv), "--lead-id", "who", "--stages", "a,b",
                  "--out", str(out))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "unknown stage" in res.stderr and not out.exists()
    res = run_cli("funnel", str(events_csv), "--out", str(out))  # no lead_id column
    assert res.returncode == 2 and "lacks the column(s) ['lead_id']" in res.stderr
    res = run_cli("funnel", str(events_csv), "--lead-id", "who", "--out", str(out),
                  "--values-out", str(tmp_path / "v.csv"))
    assert res.returncode == 2 and "--values-out needs --model or --clv" in res.stderr
    res = run_cli("funnel", str(events_csv), "--lead-id", "who", "--out", str(out),
                  "--clv", "1", "--model", "m.json")
    assert res.returncode == 2 and "not both" in res.stderr
    res = run_cli("funnel", str(events_csv), "--lead-id", "who", "--out", str(tmp_path / "f.x"))
    assert res.returncode == 2 and "name it .csv or .parquet" in res.stderr
    res = run_cli("funnel", str(events_csv), "--lead-id", "who", "--out", str(out),
                  "--model", str(tmp_path / "missing.json"))
    assert res.returncode == 2 and "cannot read model file" in res.stderr
    assert not out.exists()


def test_hostile_event_files_and_outputs_are_refused_with_one_message(tmp_path, events_csv):
    """The funnel reads through the package's reading layer and writes through its output
    layer: a latin-1 byte, a row with an extra field and an output naming the input all exit 2
    with one message, and the input is left as it was."""
    text = events_csv.read_text()
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.encode() + b"L9,lead,2024-01-0\xe9\n")
    extra = tmp_path / "extra.csv"
    extra.write_text(text + "L9,lead,2024-01-02,web,1,029\n")
    for bad, needle in ((latin, "UTF-8"), (extra, "field")):
        out = tmp_path / "out.csv"
        res = run_cli("funnel", str(bad), "--out", str(out))
        assert res.returncode == 2, res.stderr
        assert needle in res.stderr and "Traceback" not in res.stderr
        assert not out.exists()
    before = events_csv.read_bytes()
    res = run_cli("funnel", str(events_csv), "--out", str(events_csv))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert events_csv.read_bytes() == before
