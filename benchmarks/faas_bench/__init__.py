"""`faas bench`: a faas gateway's cold and warm paths against same-run baselines, and its pool
policy replayed on call traces. A distribution of its own (faas-bench, `benchmarks/`) that
plugs the `bench` command into the faas CLI (entry-point group `faas.commands`); faas never
imports it.

Pure logic (standard library, no I/O beyond trace files):
    stats     percentiles, SeBS-style summaries, baseline comparisons, interleaved rounds
    timing    `Server-Timing` and `X-Faas-Start` response headers
    traces    seeded synthetic call traces and their CSV format
    replay    what-if: a trace driven through faas.pool.policy.FunctionPool on a fake clock
    cost      pay-per-use vs always-on monthly cost and the break-even rate
    results   what a run measured, as data that round-trips through JSON
    analysis  ratios to baselines, the goals of goals.toml, the cost view

Measuring (real gateway, real Docker):
    wire         the one raw HTTP/1.1 client: times the gateway and direct calls alike
    control      the function behind the gateway: pool control and measured calls
    baselines    bare-SDK cold starts, bursts, unpause, docker run per call, cgroup memory
    loadgen      wrk (or threads on `wire`) at N connections
    environment  kernel, Docker, runc, cgroup, CPU and memory of the machine
    modes        what each series does in one round
    runner       rounds, interleaving, progress and failures

Output:
    report  terminal table, Markdown, JSON
    chart   the figures as SVG (chart.svg) and the self-contained HTML page (chart.html)
    cli     the `bench` command group
"""
