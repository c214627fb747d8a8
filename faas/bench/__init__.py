"""`faas bench`: cold vs warm benchmark with same-run baselines, report and chart.

Pure logic (standard library, no I/O beyond trace files):
    stats     percentiles, SeBS-style summaries, baseline comparisons, interleaved rounds
    timing    `Server-Timing` and `X-Faas-Start` response headers
    traces    seeded synthetic invocation traces and their CSV format
    replay    what-if replay of a trace against keep-alive / pre-warm pool policies
    cost      pay-per-use vs always-on monthly cost and the break-even rate
    results   what a run measured, as data that round-trips through JSON
    analysis  ratios to baselines, the targets of targets.md, the cost view, the what-if table

Measuring (real gateway, real Docker):
    wire         the lean HTTP/1.1 client that times the gateway and direct calls alike
    control      the function behind the gateway: pool control and measured calls
    baselines    bare-SDK cold starts, bursts, unpause, docker run per call, cgroup memory
    loadgen      wrk (or a Python client) at N connections
    environment  kernel, Docker, runc, cgroup, CPU and memory of the machine
    modes        what each series does in one round
    runner       rounds, interleaving, progress and failures

Output:
    report  terminal table, Markdown, JSON
    chart   PNG (matplotlib, the optional `bench` extra, imported lazily)
    page    a self-contained HTML page with inline SVG
    cli     the `faas bench` command group
"""
