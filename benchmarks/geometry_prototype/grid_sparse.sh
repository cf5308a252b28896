P=/work/main/.venv/bin/python
for seed in 0 1; do
for KW in "dict(vary=(1,1,0,1,0), seed_=SEED)" "dict(vary=(1,1,0,1,0), tau_ln=((0.3,0.3,1,0.15,1),0.75), seed_=SEED)" "dict(vary=(1,1,0,1,0), tau_ln=((0.3,1,1,0.15,1),0.75), tau_fix=(None,0.3,None,None,None), seed_=SEED)" "dict(vary=(1,1,1,1,0), tau_ln=((0.3,0.3,0.3,0.15,1),0.75), seed_=SEED)"; do
  K=${KW//SEED/$seed}
  echo "== $K"; $P t_detail.py "$K" 2>&1 | head -2
done; done
