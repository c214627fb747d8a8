"""Benchmark logic with no I/O beyond trace files: statistics, traces, pool replay, cost.

Modules:
    stats    percentiles, SeBS-style summaries, baseline comparisons, interleaved rounds
    timing   `Server-Timing` and `X-Faas-Start` response headers
    traces   seeded synthetic invocation traces and their CSV format
    replay   what-if replay of a trace against keep-alive / pre-warm pool policies
    cost     pay-per-use vs always-on monthly cost and the break-even rate

Standard library only, so the benchmark can run where numpy is not installed.
"""
