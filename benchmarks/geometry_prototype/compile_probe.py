"""Session 30 probe (model_geometry.md): time nutpie's compile of the demo's model with options (run in a fresh process with a fresh PyTensor cache)."""
import sys, time, json
import nutpie, numba
variant = sys.argv[1]
orig = nutpie.compile_pymc_model
out = {}
def wrapped(model, **kw):
    import pymc as pm
    out["free"] = [v.name for v in model.free_RVs]
    out["det"] = [v.name for v in model.deterministics]
    out["value_vars"] = [v.name for v in model.value_vars]
    t0 = time.perf_counter()
    if variant == "free":
        kw["var_names"] = [v.name for v in model.free_RVs]
    c = orig(model, **kw)
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out)); sys.stdout.flush()
    raise SystemExit(0)
nutpie.compile_pymc_model = wrapped
import bayes_scaling as bs
runs = bs.datasets.load_chinchilla()
bs.ScalingLaw(prior="weak").fit(runs, random_seed=1)
