"""Per-gradient cost of the model's log density, GP product as a broadcast row sum (shipped) or pt.dot.
Usage (repo root): python benchmarks/geometry_prototype/gradient_gp_dot.py {rowsum,dot} {chin,syn8x50,transfer}"""
import time, warnings, sys; warnings.simplefilter("ignore")
sys.path.insert(0, "benchmarks")
import numpy as np
import bayes_scaling as bs
from bayes_scaling import model as M
import pytensor, pytensor.tensor as pt
mode, case = sys.argv[1], sys.argv[2]
if mode == "dot":
    orig = M._rowsum
    def rs(matrix, vector):
        if matrix.ndim == 2 and matrix.name is None and getattr(matrix.owner, "op", None) is not None and "Subtensor" in type(matrix.owner.op).__name__:
            return pt.dot(matrix, vector)
        return orig(matrix, vector)
    M._rowsum = rs
if case == "chin":
    spec, runs, kw = bs.ScalingLaw(prior="weak"), bs.datasets.load_chinchilla(), {}
elif case == "syn8x50":
    from bench_speed import isoflop_domains  # run from the repository root
    spec, runs, kw = bs.ScalingLaw(), isoflop_domains(8, 50), {}
else:
    train, _ = bs.datasets.openlm_transfer_split()
    spec, runs, kw = bs.ScalingLaw(), train[["params", "tokens", "loss", "domain"]].reset_index(drop=True), {"reference": "chinchilla"}
inp = spec.inputs(runs, **kw)
m = M.build_model(inp.structure, inp.arrays, inp.refs)
ip = m.initial_point(); lp = m.logp()
t0 = time.perf_counter()
with pytensor.config.change_flags(numba__fastmath=False):
    fn = pytensor.function(m.value_vars, [lp, *pytensor.grad(lp, m.value_vars)], mode="NUMBA")
args = [ip[v.name] for v in m.value_vars]
fn(*args); tc = time.perf_counter() - t0
fn.trust_input = True
n = 3000
t0 = time.perf_counter()
for _ in range(n): fn(*args)
print(case, mode, inp.structure.n_gp, "gp domains; compile", round(tc, 1), "s; us/call", round((time.perf_counter() - t0) / n * 1e6, 1))
