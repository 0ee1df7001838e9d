"""Section 7 of the paper on our own runs: which matrices and ranks (Tables 5, 6), how similar learned subspaces
are (Figures 3, 4), how ΔW relates to W (Table 7), and two of its future directions (low data, effective rank).

`subspace` holds the linear algebra, `grid` the runs these analyses need, `updates` reads a run's learned
LoRA matrices beside the frozen weights they adapt. Tables and figures are drawn in `lora_bench.report.section7`.
"""
