"""The Early Instance Filter from Python: the C++ FilterController custom class
(decisions, uncertainty sampling, labels and weights by hand, R_set tracking, state)
and the EarlyInstanceFilter wrapper around a plain PyTorch loop on tiny synthetic data."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

import skiptrain
from skiptrain import EarlyInstanceFilter


def controller(ratio=0.25, entropy=0.6, a1=1.05, a2=0.95, window=5, init=1.0, warmup=0, tmin=1e-6, tmax=1e3,
               min_query=0.0, control="paper"):
    """The paper's rule by default: no warm-up, no query floor, the paper's R_TH."""
    return torch.classes.skiptrain.FilterController(json.dumps(dict(
        ratio=ratio, entropy_threshold=entropy, a1=a1, a2=a2, window=window, init_threshold=init,
        warmup_batches=warmup, threshold_min=tmin, threshold_max=tmax, min_query=min_query, control=control)))


def logits_for(z, offset=0.7):
    """Logits [m, 2] whose softmax gives p_High = sigmoid(z)."""
    z = torch.tensor(z, dtype=torch.float32)
    return torch.stack([torch.full_like(z, offset), offset + z], dim=1)


def binary_entropy(z):
    p = 1.0 / (1.0 + math.exp(-z))
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def test_decide_picks_high_and_uncertain_lows():
    z = [-3, -0.5, -0.2, 0.3, -1.5, -0.7, 2, -0.95, 0]
    keep, query, prob_high = controller().decide(logits_for(z))
    assert keep.tolist() == [3, 6, 8]
    assert query.tolist() == [1, 2, 5]
    assert query.tolist() == [i for i, v in enumerate(z) if v < 0 and binary_entropy(v) > 0.6]
    assert torch.allclose(prob_high, torch.sigmoid(torch.tensor(z, dtype=torch.float32)), atol=1e-6)


def test_observe_labels_and_weights_by_hand():
    c = controller(ratio=0.25)
    keep, query, prob_high = c.decide(logits_for([5, -0.3, -5, 2, -0.2]))
    assert keep.tolist() == [0, 3] and query.tolist() == [1, 4]
    labelled, labels, weights = c.observe(keep, query, prob_high, torch.tensor([2.0, 0.5]), torch.tensor([1.5, 0.1]))
    assert labelled.tolist() == [0, 3, 1, 4]
    assert labels.tolist() == [1, 0, 1, 0]
    # w_H = 4, w_L = 4/3, sum 32/3 -> 0.375 and 0.125
    assert torch.allclose(weights, torch.tensor([0.375, 0.125, 0.375, 0.125]))
    assert abs(weights.sum().item() - 1.0) < 1e-6
    # one hit of 5 -> R_TH 0.2 < 0.25 -> T_l * 0.95
    assert c.r_th() == pytest.approx(0.2)
    assert c.threshold() == pytest.approx(0.95)
    m = c.metrics()
    assert m["wrong"] == 2 and m["labelled"] == 4 and m["kept_fraction_total"] == pytest.approx(0.4)


def test_nothing_kept_and_one_kept():
    c = controller()
    keep, query, p = c.decide(logits_for([-9, -9, -9]))
    labelled, labels, weights = c.observe(keep, query, p, torch.empty(0), torch.empty(0))
    assert labelled.numel() == labels.numel() == weights.numel() == 0
    keep, query, p = c.decide(logits_for([-9, 4, -9]))
    labelled, labels, weights = c.observe(keep, query, p, torch.tensor([7.0]), torch.empty(0))
    assert labelled.tolist() == [1] and labels.tolist() == [1] and weights.tolist() == [1.0]


@pytest.mark.parametrize("ratio", [0.25, 0.5])
def test_kept_fraction_tracks_ratio_with_a_perfect_filter(ratio):
    c = controller(ratio=ratio)
    g = torch.Generator().manual_seed(0)
    kept = incoming = 0
    for b in range(1500):
        losses = torch.empty(64, dtype=torch.float64).exponential_(1.0, generator=g)
        z = torch.where(losses >= c.threshold(), 12.0, -12.0).float()
        keep, query, p = c.decide(torch.stack([torch.zeros_like(z), z], 1))
        c.observe(keep, query, p, losses[keep], losses[query])
        if b >= 500:
            kept += keep.numel()
            incoming += 64
    assert abs(kept / incoming - ratio) < 0.05
    assert abs(math.log(c.threshold()) - math.log(-math.log(ratio))) < 0.3


def test_threshold_bounded_under_adversarial_streams():
    c = controller(tmin=1e-6, tmax=1e3)
    high = logits_for([3.0] * 16)
    for loss in [0.0] * 600 + [1e30] * 600 + [0.0, 1e30] * 300:
        keep, query, p = c.decide(high)
        c.observe(keep, query, p, torch.full((keep.numel(),), loss, dtype=torch.float64), torch.empty(0))
        assert 1e-6 <= c.threshold() <= 1e3


def test_controller_state_round_trip():
    a = controller(warmup=2)
    g = torch.Generator().manual_seed(3)
    batches = [(torch.randn(32, 2, generator=g) * 2, torch.rand(32, generator=g) * 3) for _ in range(30)]

    def step(c, logits, losses):
        keep, query, p = c.decide(logits)
        return keep, query, c.observe(keep, query, p, losses[keep], losses[query])

    for logits, losses in batches[:10]:
        step(a, logits, losses)
    b = controller(warmup=2)
    b.load_state(a.state())
    assert b.threshold() == a.threshold() and b.batches() == a.batches()
    for logits, losses in batches[10:]:
        ka, qa, fa = step(a, logits, losses)
        kb, qb, fb = step(b, logits, losses)
        assert torch.equal(ka, kb) and torch.equal(qa, qb)
        assert all(torch.equal(x, y) for x, y in zip(fa, fb))
    assert a.metrics() == b.metrics()


def test_invalid_options_name_the_flag():
    model = torch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match="--eif-ratio"):
        EarlyInstanceFilter(model, ratio=1.5)
    with pytest.raises(ValueError, match="--eif-a2"):
        EarlyInstanceFilter(model, a2=1.2)
    with pytest.raises(ValueError, match="--eif-lr"):
        EarlyInstanceFilter(model, lr=0.0)


# -- the wrapper on a tiny synthetic dataset ----------------------------------------------------


class Recorder:
    """An iterable of (x, y) batches that remembers the batch it handed out last."""

    def __init__(self, batches):
        self.batches = batches
        self.last = None

    def __iter__(self):
        for batch in self.batches:
            self.last = batch
            yield batch


def synthetic_batches(n_batches, m=32, seed=0):
    """Class c in {0, 1, 2} shifts the images' mean; the main model finds some classes harder."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        y = torch.randint(0, 3, (m,), generator=g)
        x = (y.float() - 1).view(m, 1) * 0.5 + torch.randn(m, 8, generator=g)
        out.append((x, y))
    return out


def tiny_models(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    filter_model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    return model, filter_model


def margins(filter_model, x):
    """The filter's High - Low logit of each instance of x, as the wrapper's decision sees it (eval mode)."""
    with torch.no_grad():
        logits = filter_model.eval()(x)
    filter_model.train()
    return logits[:, 1] - logits[:, 0]


def test_wrapper_yields_only_kept_instances_and_learns():
    model, filter_model = tiny_models()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    eif = EarlyInstanceFilter(filter_model, ratio=0.25, warmup_batches=5, control="kept")
    loader = Recorder(synthetic_batches(120))
    filter_before = [p.detach().clone() for p in filter_model.parameters()]
    thresholds = []
    yielded = 0
    for x, y in eif.wrap(loader, model):
        full_x, full_y = loader.last
        assert x.shape[0] > 0
        if eif.metrics["warming_up"]:
            assert torch.equal(x, full_x) and torch.equal(y, full_y)
        else:
            # Exactly the instances the filter (eval mode) predicts High, in batch order.
            with torch.no_grad():
                p_high = torch.softmax(filter_model.eval()(full_x), 1)[:, 1]
            filter_model.train()
            assert torch.equal(x, full_x[p_high >= 0.5]) and torch.equal(y, full_y[p_high >= 0.5])
        losses = F.cross_entropy(model(x), y, reduction="none")
        eif.observe(losses)
        optimizer.zero_grad()
        losses.mean().backward()
        optimizer.step()
        thresholds.append(eif.threshold)
        yielded += 1
    m = eif.metrics
    assert m["batches"] == 120 and m["incoming"] == 120 * 32
    assert yielded <= 120
    assert len(set(thresholds)) > 10 and eif.threshold != 1.0
    assert m["kept_fraction_total"] < 0.7
    assert m["filter_forward_instances"] == 120 * 32
    assert m["filter_trained_instances"] == m["labelled"]
    assert any(not torch.equal(a, b) for a, b in zip(filter_before, filter_model.parameters()))


def test_wrapper_skips_batches_where_nothing_is_kept():
    model, filter_model = tiny_models()
    with torch.no_grad():
        filter_model[2].bias.copy_(torch.tensor([50.0, -50.0]))  # confidently Low for everything
    eif = EarlyInstanceFilter(filter_model, warmup_batches=0, control="kept")
    assert list(eif.wrap(synthetic_batches(4), model)) == []
    assert eif.metrics["batches"] == 4 and eif.metrics["kept"] == 0
    assert eif.threshold < 1.0  # R_TH = 0 lowers T_l


def test_wrapper_queries_uncertain_lows_with_a_loss_only_forward():
    model, filter_model = tiny_models()
    with torch.no_grad():
        for p in filter_model.parameters():
            p.zero_()
        filter_model[2].bias.copy_(torch.tensor([0.2, 0.0]))  # p_High = sigmoid(-0.2): unsure Low
    eif = EarlyInstanceFilter(filter_model, warmup_batches=0, lr=1e-9, control="kept")
    model_before = [p.detach().clone() for p in model.parameters()]
    assert list(eif.wrap(synthetic_batches(1), model)) == []
    assert eif.metrics["queried"] == 32 and eif.metrics["loss_only_instances"] == 32
    assert eif.metrics["labelled"] == 32
    assert all(torch.equal(a, b) for a, b in zip(model_before, model.parameters()))
    assert model.training


def test_wrapper_budget_rule_yields_the_top_ratio_by_margin():
    """The default rule: the ceil(ratio * m) highest filter margins of each batch, in batch order,
    whatever the filter's bias; a uniform sample of min_query of the rest is queried."""
    model, filter_model = tiny_models()
    with torch.no_grad():
        filter_model[2].bias.copy_(torch.tensor([30.0, -30.0]))  # confidently Low for everything
    eif = EarlyInstanceFilter(filter_model, ratio=0.25, warmup_batches=0, lr=1e-9)
    loader = Recorder(synthetic_batches(6))
    for x, y in eif.wrap(loader, model):
        full_x, _ = loader.last
        top = torch.sort(torch.topk(margins(filter_model, full_x), 8).indices).values
        assert torch.equal(x, full_x[top])
        eif.observe(F.cross_entropy(model(x), y, reduction="none"))
    m = eif.metrics
    assert m["kept"] == 6 * 8 and m["queried"] == 6 * 2  # ceil(0.25 * 32), ceil(0.05 * 32)
    assert m["kept_fraction_total"] == 0.25


def test_wrapper_rank_within_class_keeps_each_class_share():
    """rank_within="class": each class of the batch keeps its largest-remainder share of the budget,
    its own top margins, so the kept keep the batch's class mix; a bad value names the flag."""
    model, filter_model = tiny_models()
    eif = EarlyInstanceFilter(filter_model, ratio=0.5, warmup_batches=0, lr=1e-9, rank_within="class")
    loader = Recorder(synthetic_batches(6))
    for x, y in eif.wrap(loader, model):
        full_x, full_y = loader.last
        margin = margins(filter_model, full_x)
        for c in range(3):
            members = (full_y == c).nonzero().flatten()
            kept = (y == c).sum().item()
            assert abs(kept - 0.5 * members.numel()) <= 0.5
            top = torch.topk(margin[members], kept).indices
            assert torch.equal(torch.sort(x[y == c].sum(1)).values, torch.sort(full_x[members[top]].sum(1)).values)
        eif.observe(F.cross_entropy(model(x), y, reduction="none"))
    assert eif.metrics["kept"] == 6 * 16
    with pytest.raises(ValueError, match="--eif-rank-within"):
        EarlyInstanceFilter(filter_model, rank_within="label")


def test_observe_is_required_after_each_batch():
    model, filter_model = tiny_models()
    eif = EarlyInstanceFilter(filter_model)
    it = eif.wrap(synthetic_batches(3), model)
    next(it)
    with pytest.raises(RuntimeError, match="observe"):
        next(it)
    with pytest.raises(ValueError, match="per-instance"):
        eif2 = EarlyInstanceFilter(filter_model)
        x, y = next(eif2.wrap(synthetic_batches(1), model))
        eif2.observe(torch.tensor(1.0))


def test_wrapper_state_dict_round_trip():
    model, filter_model = tiny_models()
    eif = EarlyInstanceFilter(filter_model, warmup_batches=2)
    for x, y in eif.wrap(synthetic_batches(10), model):
        eif.observe(F.cross_entropy(model(x), y, reduction="none"))
    state = eif.state_dict()
    _, other_filter = tiny_models(seed=5)
    other = EarlyInstanceFilter(other_filter, warmup_batches=2)
    other.load_state_dict(state)
    assert other.threshold == eif.threshold
    assert other.metrics["batches"] == 10
    for a, b in zip(filter_model.parameters(), other_filter.parameters()):
        assert torch.equal(a, b)


def test_exported_from_the_package():
    assert skiptrain.EarlyInstanceFilter is EarlyInstanceFilter


def test_python_defaults_are_the_cpp_options():
    # One source: the wrapper's defaults are read from the C++ FilterOptions, and a controller
    # built with none of them given reports the same values.
    import inspect
    cpp = json.loads(torch.classes.skiptrain.FilterController("{}").options())
    params = inspect.signature(EarlyInstanceFilter.__init__).parameters
    for name, p in params.items():
        if name in ("self", "filter_model", "optimizer", "process_group"):
            continue
        default = list(p.default) if isinstance(p.default, tuple) else p.default
        assert default == cpp[name], name


def test_filter_lr_follows_the_cpp_schedule():
    eif = EarlyInstanceFilter(torch.nn.Linear(4, 2), lr=0.2, lr_milestones=[2, 4], lr_factor=0.5, warmup_batches=0)
    assert [eif._controller.lr_at(i) for i in (0, 1, 2, 3, 4, 9)] == [0.2, 0.2, 0.1, 0.1, 0.05, 0.05]
    with pytest.raises(ValueError, match="unknown option 'ratoi'"):
        torch.classes.skiptrain.FilterController(json.dumps({"ratoi": 0.5}))
    with pytest.raises(TypeError, match="window must be an integer"):
        torch.classes.skiptrain.FilterController(json.dumps({"window": 2.5}))
