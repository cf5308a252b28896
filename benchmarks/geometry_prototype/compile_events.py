"""Which numba functions compile (and how long) during nutpie's compile of the demo model."""
import sys, time, json, collections
import numba
from numba.core import event as ev
recs = []
class L(ev.Listener):
    def on_start(self, event):
        pass
    def on_end(self, event):
        pass
stack = []
class TL(ev.TimingListener):
    pass
import nutpie
orig = nutpie.compile_pymc_model
times = collections.defaultdict(float); counts = collections.Counter()
class Rec(ev.Listener):
    def __init__(self):
        self.t = {}
    def on_start(self, event):
        self.t[id(event.data["dispatcher"]) , str(event.data["args"])] = time.perf_counter()
    def on_end(self, event):
        k = (id(event.data["dispatcher"]), str(event.data["args"]))
        dt = time.perf_counter() - self.t.pop(k, time.perf_counter())
        name = getattr(event.data["dispatcher"], "py_func", None)
        name = getattr(name, "__qualname__", str(name))
        recs.append((name, dt))
def wrapped(model, **kw):
    r = Rec()
    ev.register("numba:compile", r)
    t0 = time.perf_counter()
    c = orig(model, **kw)
    total = time.perf_counter() - t0
    ev.unregister("numba:compile", r)
    agg = collections.defaultdict(lambda: [0, 0.0])
    for n, dt in recs:
        agg[n][0] += 1; agg[n][1] += dt
    print("total", round(total, 1), "n compiles", len(recs))
    for n, (c_, t) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:40]:
        print(f"{t:7.2f} {c_:3d} {n}")
    raise SystemExit(0)
nutpie.compile_pymc_model = wrapped
import bayes_scaling as bs
runs = bs.datasets.load_chinchilla()
bs.ScalingLaw(prior="weak").fit(runs, random_seed=1)
