"""The reproduction's plots (matplotlib, Agg backend, PNG): test accuracy against spent
MACs for every method (the paper's Fig. 9), the filter's kept fraction and loss threshold
T_l against iterations (Fig. 10), and the kept error-map channels of each pruned layer."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from .results import mean_curve, method_order, runs_of  # noqa: E402


def _save(fig, path):
    """Lays out, writes and closes `fig`; returns `path`."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def accuracy_vs_macs(doc, path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in method_order(doc):
        points = mean_curve(doc, name, "test_acc")
        ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker=".", label=name)
    ax.set_xlabel("spent MACs (mean over seeds)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{doc['preset']}: test accuracy against computation")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def eif_filter(doc, path):
    """Seed-by-seed kept fraction and T_l of every method with an "eif" record; None if there is none."""
    runs = [r for name in method_order(doc) for r in runs_of(doc, name) if r["metrics"] and "eif" in r["metrics"][0]]
    if not runs:
        return None
    fig, (kept, threshold) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for r in runs:
        its = [m["iteration"] for m in r["metrics"]]
        label = f"{r['method']} seed {r['seed']}"
        kept.plot(its, [m["eif"]["kept_fraction"] for m in r["metrics"]], marker=".", label=label)
        threshold.plot(its, [m["eif"]["threshold"] for m in r["metrics"]], marker=".", label=label)
    kept.set_ylabel("kept fraction (recent window)")
    threshold.set_ylabel("loss threshold T_l")
    threshold.set_xlabel("iteration (incoming mini-batches)")
    kept.set_title(f"{doc['preset']}: the early instance filter over training")
    for ax in (kept, threshold):
        ax.grid(alpha=0.3)
    kept.legend(fontsize="small")
    return _save(fig, path)


def emp_channels(doc, path):
    """Kept / total error-map channels per pruned layer for each method with EMP; None if none."""
    kept_by_method = {}
    for name in method_order(doc):
        run = runs_of(doc, name)[0]
        if run["metrics"] and "emp_kept_channels" in run["metrics"][-1]:
            kept_by_method[name] = run["metrics"][-1]["emp_kept_channels"]
    if not kept_by_method:
        return None
    layers = list(next(iter(kept_by_method.values())).keys())
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(layers) + 3), 4))
    width = 0.8 / len(kept_by_method)
    for i, (name, kept) in enumerate(kept_by_method.items()):
        xs = [j + i * width for j in range(len(layers))]
        ax.bar(xs, [kept[l][0] for l in layers], width, label=f"{name}: kept")
    ax.bar([j + 0.4 - width / 2 for j in range(len(layers))], [kept_by_method[next(iter(kept_by_method))][l][1]
           for l in layers], 0.8, fill=False, edgecolor="gray", label="C_out")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(layers))])
    ax.set_xticklabels(layers, rotation=60, ha="right", fontsize="small")
    ax.set_ylabel("error-map channels in backward")
    ax.set_title(f"{doc['preset']}: channels kept by Error Map Pruning per conv layer")
    ax.legend(fontsize="small")
    return _save(fig, path)


def write_all(doc, out_dir):
    """Writes every plot that `doc` has data for into `out_dir`; returns their paths."""
    p = doc["preset"]
    written = [accuracy_vs_macs(doc, out_dir / f"{p}-accuracy-vs-macs.png"),
               eif_filter(doc, out_dir / f"{p}-eif-filter.png"),
               emp_channels(doc, out_dir / f"{p}-emp-channels.png")]
    return [w for w in written if w is not None]
