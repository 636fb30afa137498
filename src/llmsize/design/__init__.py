"""Architecture design and scaling: shapes for a budget, scaling laws, comparisons and what-ifs.

Modules: `units` (parse "7B", "1e23"), `scaling` (Chinchilla, Kaplan, Sardana), `shapes` (well-formed
candidates for a parameter budget), `metrics` (one row of numbers per spec, through llmsize.memory
and the planner), `report` (the dicts behind `llmsize design/scaling/compare/whatif --json`),
`whatif` (attention, vocabulary, depth/width, MoE) and `compress` (quantization, pruning, 2:4,
distillation).
"""
