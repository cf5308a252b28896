"""The multi-domain path from the command line, as a new user runs it (issue 14): ``bayes-scaling fit`` on real
OpenLM runs of several domains, in a subprocess with the default sampler settings, with and without
``--reference chinchilla``, then ``predict``, ``frontier --domain``, ``risk``, ``compare`` and ``next-run`` on the result.

The runs come from ``../shared/data/openlm_overtrain`` next to the repository when it is there (as in CI), else from
the package's embedded copy (the same file). Default settings on purpose: the failure this guards against came after
minutes of default sampling. Diagnostics may fail on these sparse domains (the fit says so); the contract checked here
is that the command ends with exit code 0 and writes every table, figure and the saved fit for every domain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "openlm_overtrain" / "openlm_losses_long.csv"


def _openlm() -> pd.DataFrame:
    if SHARED.exists():
        raw = pd.read_csv(SHARED)
        return pd.DataFrame({"params": raw["params"].astype(float), "tokens": raw["tokens"].astype(float),
                             "loss": raw["loss"].astype(float),
                             "domain": raw["train_dataset"] + "/" + raw["eval_domain"]})
    return bs.datasets.load_openlm()[["params", "tokens", "loss", "domain"]]


def _design(df: pd.DataFrame, domains=None, largest: float = 4.2e8) -> pd.DataFrame:
    """The over-training design of Gadre et al. (2024): 20 tokens per parameter up to `largest`, plus the 154M model
    at 320 tokens per parameter."""
    tpp = df["tokens"] / df["params"]
    keep = (np.isclose(tpp, 20) & (df["params"] <= largest)) | (np.isclose(tpp, 320) & np.isclose(df["params"], 1.537e8,
                                                                                                     rtol=1e-3))
    out = df[keep]
    if domains is not None:
        out = out[out["domain"].isin(domains)]
    return out.sort_values(["domain", "params", "tokens"]).reset_index(drop=True)


def _cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "bayes_scaling.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1800)


def _check_fit_dir(out: Path, domains: list[str]) -> None:
    for name in ("report.html", "report.md", "predictions.csv", "frontier.csv", "summary.json", "fit/fit.json",
                 "fit/posterior.nc", "fit_domains.png", "fit_flops.png", "frontier.png", "parameters.png"):
        assert (out / name).exists(), name
    pred = pd.read_csv(out / "predictions.csv")
    assert set(domains) | {"(new domain)"} <= set(pred["domain"])
    assert pred[["loss_median", "loss_lower", "loss_upper"]].notna().all().all()
    assert (pred["loss_lower"] < pred["loss_median"]).all() and (pred["loss_median"] < pred["loss_upper"]).all()
    fr = pd.read_csv(out / "frontier.csv")
    summary = json.loads((out / "summary.json").read_text())
    notes = " ".join(summary["workflow_notes"])
    for dom in domains:  # a frontier row per domain, or a note naming it
        assert dom in set(fr["domain"]) or f"'{dom}'" in notes, dom
    assert summary["data"]["domains"] == domains


def test_fit_two_domains_then_every_analysis_command(tmp_path):
    two = _design(_openlm(), ["rpj/c4_val", "rw_original/paloma_ptb"])
    assert list(two.groupby("domain").size()) == [5, 5]
    two.rename(columns={"domain": "mix"}).to_csv(tmp_path / "two_domains.csv", index=False)
    res = _cli("fit", "two_domains.csv", "--domain-col", "mix", "--out", "o", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert not any(ln.startswith("error:") for ln in res.stderr.splitlines()) and "Traceback" not in res.stderr
    domains = ["rpj/c4_val", "rw_original/paloma_ptb"]
    _check_fit_dir(tmp_path / "o", domains)

    pd.DataFrame({"params": [1.4e9, 6.9e9], "tokens": [2.8e10, 1.38e11]}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"label": ["1.4B@20", "411M@80"], "params": [1.4e9, 4.1e8],
                  "tokens": [2.8e10, 3.3e10]}).to_csv(tmp_path / "c.csv", index=False)
    # targets that name their domain in the fit's own column (--domain-col mix) get that domain only
    pd.DataFrame({"params": [1.4e9], "tokens": [2.8e10], "mix": ["rw_original/paloma_ptb"]}).to_csv(tmp_path / "tm.csv",
                                                                                                  index=False)
    steps = [
        ("predict", "o", "--at", "t.csv", "--out", "p.csv"),
        ("predict", "o", "--at", "tm.csv", "--out", "pm.csv"),
        ("frontier", "o", "--flops", "1e21,1e22", "--domain", "rpj/c4_val", "--out", "f.csv"),
        ("risk", "o", "--at", "t.csv", "--threshold", "3.0", "--out", "r.csv"),
        ("compare", "o", "--candidates", "c.csv", "--domain", "rpj/c4_val", "--out", "cmp.csv"),
        ("next-run", "o", "--candidates", "c.csv", "--domain", "rpj/c4_val", "--target-params", "6.9e9",
         "--target-tokens", "1.38e11", "--out", "n.csv"),
    ]
    for args in steps:
        r = _cli(*args, "--quiet", cwd=tmp_path)
        assert r.returncode == 0, (args[0], r.stderr)
        assert "Traceback" not in r.stderr
    pm = pd.read_csv(tmp_path / "pm.csv")
    assert list(pm["domain"]) == ["rw_original/paloma_ptb"] and list(pm["mix"]) == ["rw_original/paloma_ptb"]
    p = pd.read_csv(tmp_path / "p.csv")
    assert list(p["domain"]) == ["rpj/c4_val", "rw_original/paloma_ptb", "(new domain)"] * 2
    f = pd.read_csv(tmp_path / "f.csv")
    assert (f["domain"] == "rpj/c4_val").all() and len(f) == 2
    r = pd.read_csv(tmp_path / "r.csv")
    assert {"p_exceed", "loss_gap_median", "loss_gap_lower", "departure_tolerance", "p_departure"} <= set(r)
    assert (pd.read_csv(tmp_path / "cmp.csv")["domain"] == "rpj/c4_val").all()
    assert (pd.read_csv(tmp_path / "n.csv")["domain"] == "rpj/c4_val").all()
    fit = bs.ScalingFit.load(tmp_path / "o")  # the directory the CLI wrote
    assert fit.domains == domains and "E" in fit.posterior["posterior"] and fit.domain_col == "mix"


def test_fit_24_domains_with_the_chinchilla_reference(tmp_path):
    table = _design(_openlm(), largest=1.6e8)
    assert table["domain"].nunique() == 24 and len(table) == 96
    table.to_csv(tmp_path / "openlm24.csv", index=False)
    res = _cli("fit", "openlm24.csv", "--out", "o", "--reference", "chinchilla", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and not any(ln.startswith("error:") for ln in res.stderr.splitlines())
    # warnings about the embedded reference runs name them, not a row of the user's file
    assert not any("(row 0)" in ln for ln in res.stderr.splitlines())
    domains = sorted(table["domain"].unique())
    _check_fit_dir(tmp_path / "o", list(dict.fromkeys(table["domain"])))
    md = (tmp_path / "o" / "report.md").read_text()
    assert "96 training runs in 24 domains" in md
    assert "Reference runs, fitted alongside but not part of your data: 245 runs of chinchilla" in md
    r = _cli("frontier", "o", "--flops", "1e21", "--domain", domains[0], "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
