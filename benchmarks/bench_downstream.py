"""Issue 16 benchmark: backtest of the two-stage forecast of downstream accuracy on the OpenLM models.

Data: Gadre et al. (2024) OpenLM models (``bayes_scaling.datasets.load_openlm_downstream``), 3 training
corpora (C4, RedPajama, RefinedWeb), 46 downstream tasks, loss on the C4 validation set (``c4_val``).
Split: fit on the models with N <= 411M (95 models), forecast the 1.4B and 6.9B models (9 models) on the
tasks that :func:`bayes_scaling.downstream.predictable_tasks` flags from the small models alone.

Methods
-------
``bayes``
    Stage 1: :class:`bayes_scaling.ScalingLaw` (package defaults: Chinchilla law, ``besiroglu2024``
    prior) fitted to the c4_val loss of the small models with the training corpus as the domain;
    draws of a new run's loss at each held-out (N, D) from :func:`bayes_scaling.predict.predictive_draws`.
    Stage 2: :func:`bayes_scaling.downstream.fit_downstream` on the small models (corpus shift,
    random-walk discrepancy, defaults). Forecast: :meth:`DownstreamFit.metric_draws` at the stage-1
    draws (new evaluation, noise included); point = median, 90 % equal-tailed interval.
``two_step_ls``
    Stage 1: Huber least squares per corpus (Hoffmann et al. 2022 Eq. 3, :class:`bayes_scaling.baselines.
    HuberLeastSquares`), its 200-resample bootstrap for draws of a new run's log loss (law + in-sample
    residual). Stage 2: the same link (sigmoid with the chance floor, ceiling, per-task corpus shifts of
    the loss axis) fitted per task by ordinary least squares (scipy ``least_squares``); interval from a
    residual bootstrap (100 refits per task; draw s uses refit s mod 100 plus a resampled residual) at
    the stage-1 bootstrap draws. Point forecast: the LS link at the LS loss.
``bayes (true loss)``
    Stage 2 alone at the held-out models' measured loss (no stage-1 error): separates the stages.
``bayes, no walk (true loss)``
    With ``--ablation`` only: the same, with ``fit_downstream(discrepancy=False)`` (no random-walk term).

Scores per task and pooled over (model, task): median absolute error in accuracy points and the
fraction of held-out accuracies inside the 90 % interval.

Run: ``python benchmarks/bench_downstream.py [--ablation]`` — prints the tables and writes
``benchmarks/downstream_results.md`` (``downstream_ablation.md`` with ``--ablation``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from _common import machine, md_table, quiet

quiet()

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.baselines import HuberLeastSquares  # noqa: E402
from bayes_scaling.downstream import fit_downstream, link_mean, predictable_tasks  # noqa: E402
from bayes_scaling.predict import predictive_draws  # noqa: E402

SEED = 0
PROB = 0.9
CUTOFF = 5e8  # N <= 411M fitted
EVAL_DOMAIN = "c4_val"
N_BOOT2 = 100


def data():
    d = bs.datasets.load_openlm_downstream(EVAL_DOMAIN)
    small, big = d[d["params"] <= CUTOFF], d[d["params"] > CUTOFF]
    runs = bs.datasets.load_openlm(eval_domains=[EVAL_DOMAIN])
    runs["domain"] = runs["train_dataset"]
    models = big.drop_duplicates("run_name")[["run_name", "train_dataset", "params", "tokens", "loss"]]
    return small, big, runs[runs["params"] <= CUTOFF], models.reset_index(drop=True)


# --------------------------------------------------------------------------- baseline, stage 2
def _ls_link(x, g, chance, n_groups):
    def f(theta, xx, gg):
        b, ls, r = theta[:3]
        shift = np.r_[0.0, theta[3:3 + n_groups - 1]][gg]
        ceil = chance + (1 - chance) / (1 + np.exp(-r))
        return link_mean(xx - shift, chance, ceil, b, np.exp(ls))
    return f


def fit_ls_task(x, g, y, chance, n_groups, rng):
    """Least-squares link of one task and its residual bootstrap (N_BOOT2 refits)."""
    f = _ls_link(x, g, chance, n_groups)
    best = None
    for b0 in np.quantile(x, [0.0, 0.25, 0.5]) - 0.3:
        for s0 in (0.15, 0.4, 1.0):
            th0 = np.r_[b0, np.log(s0), 1.0, np.zeros(n_groups - 1)]
            res = optimize.least_squares(lambda th: f(th, x, g) - y, th0, method="trf")
            if best is None or res.cost < best.cost:
                best = res
    theta = best.x
    fitted = f(theta, x, g)
    resid = y - fitted
    boots = []
    for _ in range(N_BOOT2):
        ystar = fitted + rng.choice(resid, size=len(resid), replace=True)
        boots.append(optimize.least_squares(lambda th: f(th, x, g) - ystar, theta, method="trf").x)
    return f, theta, np.array(boots), resid


def two_step_ls(small, runs, models, tasks, rng):
    groups = sorted(small["train_dataset"].unique())
    gidx = {c: i for i, c in enumerate(groups)}
    hfit = HuberLeastSquares().fit(runs[["params", "tokens", "loss", "domain"]])
    hboot = hfit.bootstrap(n_boot=200, random_seed=SEED)
    point_loss = np.empty(len(models))
    loss_draws = np.empty((4000, len(models)))
    for c, idx in models.groupby("train_dataset").groups.items():
        fc = hboot.forecast(models.loc[idx, ["params", "tokens"]], c)
        point_loss[idx] = np.exp(hfit.forecast(models.loc[idx, ["params", "tokens"]], c).point_log)
        loss_draws[:, idx] = np.exp(fc.draws_log[:4000])
    g_big = models["train_dataset"].map(gidx).to_numpy()
    out = {}
    for task in tasks:
        s = small[small["task"] == task]
        chance = float(s["chance"].iloc[0])
        f, theta, boots, resid = fit_ls_task(s["loss"].to_numpy(), s["train_dataset"].map(gidx).to_numpy(),
                                             s["metric"].to_numpy(), chance, len(groups), rng)
        point = f(theta, point_loss, g_big)
        draws = np.empty_like(loss_draws)
        for k in range(loss_draws.shape[0]):
            draws[k] = f(boots[k % N_BOOT2], loss_draws[k], g_big) + rng.choice(resid, size=len(models))
        out[task] = (point, np.clip(draws, 0, 1))
    return out, point_loss


# --------------------------------------------------------------------------- bayes
def ablation(small, models, tasks):
    """Stage 2 without the random-walk discrepancy, at the held-out models' true loss."""
    fit2 = fit_downstream(small[small["task"].isin(tasks)], tasks, group_col="train_dataset", random_seed=SEED,
                          discrepancy=False)
    true_l = np.tile(models["loss"].to_numpy()[None, :], (fit2.n_draws, 1))
    oracle = fit2.metric_draws(true_l, models["train_dataset"].tolist(), rng=np.random.default_rng(SEED + 2))
    return {t: oracle[:, :, fit2.tasks.index(t)] for t in tasks}


def bayes(small, runs, models, tasks):
    t0 = time.perf_counter()
    fit1 = bs.ScalingLaw().fit(runs[["params", "tokens", "loss", "domain"]], random_seed=SEED)
    t1 = time.perf_counter() - t0
    rng = np.random.default_rng(SEED)
    loss_draws = np.empty((fit1.n_draws, len(models)))
    for c, idx in models.groupby("train_dataset").groups.items():
        _, new = predictive_draws(fit1, models.loc[idx, ["params", "tokens"]], c, rng)
        loss_draws[:, idx] = np.exp(new)
    t0 = time.perf_counter()
    fit2 = fit_downstream(small[small["task"].isin(tasks)], tasks, group_col="train_dataset", random_seed=SEED)
    t2 = time.perf_counter() - t0
    draws = fit2.metric_draws(loss_draws, models["train_dataset"].tolist(), rng=np.random.default_rng(SEED + 1))
    true_l = np.tile(models["loss"].to_numpy()[None, :], (fit2.n_draws, 1))
    oracle = fit2.metric_draws(true_l, models["train_dataset"].tolist(), rng=np.random.default_rng(SEED + 2))
    return {
        "fit1": fit1, "fit2": fit2, "loss_draws": loss_draws, "seconds": (t1, t2),
        "draws": {t: draws[:, :, fit2.tasks.index(t)] for t in tasks},
        "oracle": {t: oracle[:, :, fit2.tasks.index(t)] for t in tasks},
    }


def score(point, draws, truth):
    lo, hi = np.quantile(draws, [(1 - PROB) / 2, (1 + PROB) / 2], axis=0)
    return np.abs(point - truth) * 100, (lo <= truth) & (truth <= hi), (hi - lo) * 100


def main(with_ablation: bool = False) -> str:
    t_start = time.perf_counter()
    small, big, runs, models = data()
    flags = predictable_tasks(small)
    tasks = flags.loc[flags["predictable"], "task"].tolist()
    truth = big.pivot_table(index="run_name", columns="task", values="metric").loc[models["run_name"]]
    rng = np.random.default_rng(SEED)
    res_b = bayes(small, runs, models, tasks)
    t0 = time.perf_counter()
    res_ls, ls_loss = two_step_ls(small, runs, models, tasks, rng)
    t_ls = time.perf_counter() - t0
    no_walk = ablation(small, models, tasks) if with_ablation else None

    names = ("bayes", "two_step_ls", "bayes_true_loss") + (("no_walk_true_loss",) if with_ablation else ())
    rows, pooled = [], {m: ([], [], []) for m in names}
    for task in tasks:
        y = truth[task].to_numpy()
        row = {"task": task, "chance": float(flags.set_index("task").loc[task, "chance"]),
               "mean_acc_heldout": y.mean() * 100}
        methods = {
            "bayes": (np.median(res_b["draws"][task], 0), res_b["draws"][task]),
            "two_step_ls": res_ls[task],
            "bayes_true_loss": (np.median(res_b["oracle"][task], 0), res_b["oracle"][task]),
        }
        if with_ablation:
            methods["no_walk_true_loss"] = (np.median(no_walk[task], 0), no_walk[task])
        for name, (point, draws) in methods.items():
            err, cov, width = score(point, draws, y)
            row[f"{name}_mae_median"] = float(np.median(err))
            row[f"{name}_cov90"] = float(cov.mean())
            row[f"{name}_width"] = float(np.median(width))
            for lst, v in zip(pooled[name], (err, cov, width), strict=True):
                lst.append(v)
        rows.append(row)
    per_task = pd.DataFrame(rows)
    pool = {"task": "pooled", "chance": np.nan, "mean_acc_heldout": float(truth[tasks].to_numpy().mean() * 100)}
    for name, (e, c, w) in pooled.items():
        pool[f"{name}_mae_median"] = float(np.median(np.concatenate(e)))
        pool[f"{name}_cov90"] = float(np.concatenate(c).mean())
        pool[f"{name}_width"] = float(np.median(np.concatenate(w)))
    table = pd.concat([per_task, pd.DataFrame([pool])], ignore_index=True)

    # stage-1 loss errors, for context
    l_true = models["loss"].to_numpy()
    l_b = np.median(res_b["loss_draws"], 0)
    lo, hi = np.quantile(res_b["loss_draws"], [0.05, 0.95], axis=0)
    stage1 = models[["train_dataset", "params", "tokens", "loss"]].copy()
    stage1["bayes_loss"] = l_b
    stage1["bayes_ape_%"] = np.abs(l_b / l_true - 1) * 100
    stage1["bayes_in_90"] = (lo <= l_true) & (l_true <= hi)
    stage1["huber_loss"] = ls_loss
    stage1["huber_ape_%"] = np.abs(ls_loss / l_true - 1) * 100

    b_cov, b_mae, ls_mae = pool["bayes_cov90"], pool["bayes_mae_median"], pool["two_step_ls_mae_median"]
    checks = [
        f"pooled 90 % coverage in [0.80, 0.97]: {b_cov:.3f} -> {'PASS' if 0.80 <= b_cov <= 0.97 else 'FAIL'}",
        f"pooled median absolute error <= two-step LS: {b_mae:.2f} vs {ls_mae:.2f} points -> "
        f"{'PASS' if b_mae <= ls_mae else 'FAIL'}",
    ]
    f1, f2 = res_b["fit1"], res_b["fit2"]
    diag = (f"stage 1 ({f1.prior.name} prior, {len(f1.domains)} corpora): R-hat max {f1.diagnostics.max_rhat:.3f}, "
            f"{f1.diagnostics.divergences} divergences, fit {res_b['seconds'][0]:.0f} s; stage 2 ({len(tasks)} tasks, "
            f"{len(f2.groups)} corpora): R-hat max {f2.diagnostics.max_rhat:.3f}, min bulk ESS "
            f"{f2.diagnostics.min_ess_bulk:.0f}, {f2.diagnostics.divergences} divergences, fit {res_b['seconds'][1]:.0f} s "
            f"(compile {f2.timings['compile_seconds']:.0f} s); baseline {t_ls:.0f} s")
    shown = table[["task", "chance", "mean_acc_heldout", "bayes_mae_median", "bayes_cov90", "bayes_width",
                   "two_step_ls_mae_median", "two_step_ls_cov90", "two_step_ls_width", "bayes_true_loss_mae_median",
                   "bayes_true_loss_cov90"] + (["no_walk_true_loss_mae_median", "no_walk_true_loss_cov90"]
                                               if with_ablation else [])]
    flagged = flags[["task", "chance", "n_items", "kendall_tau", "p_trend", "metric_at_best", "noise_sd", "lift_z",
                     "predictable", "reason"]]
    md = "\n".join([
        "# Downstream backtest (issue 16): fit N <= 411M, forecast the 1.4B and 6.9B OpenLM models",
        "",
        f"Generated by `python benchmarks/bench_downstream.py` on {time.strftime('%Y-%m-%d')} ({machine()}), "
        f"{time.perf_counter() - t_start:.0f} s in total; seed {SEED}. Loss: `{EVAL_DOMAIN}`. Accuracy in points "
        "(percent); `mae_median` = median absolute error of the point forecast, `cov90` = share of held-out "
        "accuracies inside the 90 % interval, `width` = median interval width. 9 held-out models per task.",
        "",
        "## Checks",
        "",
        *[f"- {c}" for c in checks],
        f"- {diag}",
        "",
        "## Per task and pooled",
        "",
        md_table(shown, ".3g"),
        "",
        "## Stage 1: loss forecasts (c4_val) of the held-out models",
        "",
        md_table(stage1, ".4g"),
        "",
        f"## Predictable tasks (from the {small['run_name'].nunique()} small models alone)",
        "",
        md_table(flagged, ".3g"),
        "",
    ])
    return md, checks


if __name__ == "__main__":
    abl = "--ablation" in sys.argv[1:]
    md, checks = main(with_ablation=abl)
    out = Path(__file__).with_name("downstream_ablation.md" if abl else "downstream_results.md")
    out.write_text(md)
    print(md)
    print(f"written to {out}")
