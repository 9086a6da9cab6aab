"""The pieces of benchmarks/reproduce.py: presets (what to run), results (reading runs
back), targets (issue 6's goals, evaluated), report (the markdown table) and plots."""
