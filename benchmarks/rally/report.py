"""Prints the table of a Rally JSON report (`rally task report --json`):
for each workload, the mean, median, p90, p95 and max of each Nova action,
and the ratio of novadock's mean to the fake driver's for the same
workload. Usage: report.py REPORT.json"""

import json
import sys

ACTIONS = ("nova.boot_server", "nova.delete_server", "nova.stop_server",
           "nova.start_server", "nova.soft_reboot_server", "nova.reboot_server",
           "nova.migrate", "nova.resize_confirm")


def workloads(report):
    for task in report["tasks"]:
        for subtask in task["subtasks"]:
            for w in subtask["workloads"]:
                yield subtask["title"], w


def atomics(w):
    rows = list(w["statistics"]["durations"]["atomics"])
    while rows:
        row = rows.pop(0)
        yield row["name"], row["data"]
        # nova.stop_and_start_server holds nova.stop_server and start_server.
        rows[:0] = row.get("children", [])


def main(path):
    with open(path) as f:
        report = json.load(f)
    means = {}
    lines = ["| workload | action | n | mean | median | p90 | p95 | max |",
             "|---|---|---|---|---|---|---|---|"]
    for title, w in workloads(report):
        for name, d in atomics(w):
            if name not in ACTIONS:
                continue
            means[(title, name)] = d["avg"]
            lines.append(
                f"| {title} | {name} | {d['iteration_count']} | {d['avg']:.2f} | "
                f"{d['median']:.2f} | {d['90%ile']:.2f} | {d['95%ile']:.2f} | {d['max']:.2f} |")
    print("\n".join(lines))
    ratios = []
    for (title, name), mean in sorted(means.items()):
        if "novadock, no network" not in title:
            continue
        fake = means.get((title.replace("novadock, no network", "fake driver, no network"), name))
        if fake:
            ratios.append(f"| {title.split(':')[0]}, {title.rsplit(', ', 1)[1]} | {name} | "
                          f"{mean:.2f} / {fake:.2f} = {mean / fake:.2f}x |")
    # Only a report with the fake driver's workloads has ratios.
    if ratios:
        print()
        print("| workload | action | novadock, no network / fake driver (means) |")
        print("|---|---|---|")
        print("\n".join(ratios))

if __name__ == "__main__":
    main(sys.argv[1])
