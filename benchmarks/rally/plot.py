"""Draws the Rally figures of a report (`rally task report --json`): the
mean of each Nova action (whiskers: median to p95) for novadock on the
network "private", novadock with no network and Nova's fake driver with no
network, at each concurrency. Run with the benchmarks' venv (matplotlib;
benchmarks/setup.sh). Usage: plot.py REPORT.json OUT.png"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from report import atomics, workloads

SHOWN = ("nova.boot_server", "nova.delete_server", "nova.stop_server",
         "nova.start_server", "nova.soft_reboot_server", "nova.reboot_server")
RUNS = ("novadock, private", "novadock, no network", "fake driver, no network")


def figures(report):
    """{(concurrency, run, action): (mean, median, p95)}: an action measured
    in both scenarios (boot, delete) keeps the boot_and_delete one."""
    out = {}
    for title, w in workloads(report):
        run = next((r for r in RUNS if r in title), None)
        if run is None:
            continue
        concurrency = int(title.rsplit("concurrency ", 1)[1])
        for name, d in atomics(w):
            key = (concurrency, run, name)
            if name in SHOWN and key not in out:
                out[key] = (d["avg"], d["median"], d["95%ile"])
    return out


def main(path, png):
    with open(path) as f:
        data = figures(json.load(f))
    levels = sorted({c for c, _, _ in data})
    fig, axes = plt.subplots(1, len(levels), figsize=(6 * len(levels), 4.5), sharey=True)
    if len(levels) == 1:
        axes = [axes]
    width = 0.8 / len(RUNS)
    for ax, concurrency in zip(axes, levels, strict=True):
        for i, run in enumerate(RUNS):
            xs, means, low, high = [], [], [], []
            for j, action in enumerate(SHOWN):
                v = data.get((concurrency, run, action))
                if v is None:
                    continue
                mean, median, p95 = v
                xs.append(j + (i - 1) * width)
                means.append(mean)
                low.append(max(mean - median, 0))
                high.append(max(p95 - mean, 0))
            ax.bar(xs, means, width, label=run, yerr=[low, high], capsize=2)
        ax.set_xticks(range(len(SHOWN)))
        ax.set_xticklabels([a.removeprefix("nova.").removesuffix("_server") for a in SHOWN],
                           rotation=20)
        ax.set_title(f"concurrency {concurrency}")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("seconds (mean; whiskers to median and p95)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Rally NovaServers scenarios on the one-machine cloud")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
