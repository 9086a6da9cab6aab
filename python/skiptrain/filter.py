"""The Early Instance Filter for a plain PyTorch training loop.

A small filter network predicts, before the main model's forward pass, whether an
instance's loss will be High; predicted-Low instances are dropped. The decision,
labelling, adaptive threshold and class weights are the C++ ``FilterController``
(``torch.classes.skiptrain.FilterController``, the same code the ``skiptrain``
trainer runs); this module only runs the user's two models around it.
"""
import json
import math
from typing import Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F

from skiptrain import _checks, _core

__all__ = ["EarlyInstanceFilter"]


def _per_instance_cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, targets, reduction="none")


def _device_of(module: torch.nn.Module, fallback: torch.device) -> torch.device:
    for p in module.parameters():
        return p.device
    return fallback


class EarlyInstanceFilter:
    """Self-supervised instance filtering (Wu et al., arXiv 2007.03213, section 3).

    Per batch of m instances: the filter sees all m (eval mode, no grad); the
    instances it ranks in the top ``ratio`` of the batch (``control="budget"``,
    the default; or those it predicts High) are yielded to your loop; a uniform
    sample of ``min_query`` of the dropped instances (or the uncertain predicted-Low)
    gets a loss-only forward of ``model`` (eval mode, no grad) so that they can be
    labelled too. After your loop computes the per-instance losses of the yielded
    instances, ``observe`` labels every labelled instance High when its loss >= T_l,
    adapts T_l (to the stream's (1 - ratio) loss quantile), and trains the filter one step with
    class-weighted cross-entropy (weights 1/ratio for High, 1/(1-ratio) for Low,
    normalised to sum 1). During the first ``warmup_batches`` batches everything
    is kept, so the filter and T_l get labels before the filter decides.

    Args:
        filter_model: a torch.nn.Module mapping a batch of inputs to logits [m, 2]
            (index 1 = High); it shares no layers with the main model.
        ratio: R_set, the fraction of the stream that should train the main model, in (0, 1).
        lr: the filter's learning rate (ignored when ``optimizer`` is given).
        momentum: the filter's SGD momentum (ignored when ``optimizer`` is given).
        weight_decay: the filter's SGD weight decay (ignored when ``optimizer`` is given).
        lr_milestones: batch counts at which the filter's lr is multiplied by ``lr_factor``
            (only with the built-in optimizer).
        lr_factor: the multiplier at each milestone.
        entropy_threshold: entropy_T in nats, in [0, ln 2] (unused by control "budget").
        a1: T_l <- a1 * T_l when R_TH >= ratio (a1 > 1); R_TH is set by ``control``.
        a2: T_l <- a2 * T_l otherwise (0 < a2 < 1).
        window: number of recent batches over which R_TH is measured.
        init_threshold: the initial T_l.
        warmup_batches: batches at the start during which everything is kept.
        threshold_min: lower bound of T_l.
        threshold_max: upper bound of T_l.
        min_query: fraction of each batch always queried among the dropped instances: a uniform
            sample under "budget", the highest p_High predicted-Low otherwise.
        control: the decision rule: "budget" (keep the ceil(ratio * m) highest filter margins of
            each batch; T_l tracks the stream's (1 - ratio) loss quantile), "kept" or "paper"
            (keep p_High >= 0.5; T_l moved by the kept share or by the paper's R_TH).
        rank_within: under "budget", rank the whole batch ("batch", the paper's) or each class's
            instances in it ("class": each class keeps its share, so the kept keep the batch's
            class mix; y must hold class indices).
        optimizer: an optimizer over ``filter_model``'s parameters; default SGD(lr, momentum, weight_decay).
        process_group: the ranks of a data-parallel run that share this filter; default
            torch.distributed's default group when it is initialized with more than one rank, else
            none (this process alone). Each rank filters its own shard of the data (a
            ``DistributedSampler``); the ranks keep one filter: rank 0's initial weights, the
            batch's counts summed before T_l moves (so T_l and the kept share are the whole
            batch's), and each training step's gradients averaged over the ranks. Needs
            ``control="budget"``, under which every rank keeps ``ceil(ratio * m)`` of its ``m`` and
            so takes part in every step of a ``DistributedDataParallel`` model.

    Raises:
        TypeError: an option of the wrong type (a str for a number, a fraction for a count).
        ValueError: an option out of range (the message names the trainer's ``--eif-*`` flag).
        Both come from the C++ ``FilterOptions``, which holds the defaults above and their reasons.

    Example: a plain PyTorch loop changed in three lines (marked ``# EIF``)::

        eif = EarlyInstanceFilter(filter_model, ratio=0.25)                  # EIF
        for x, y in eif.wrap(loader, model, loss_fn):                        # EIF (was: loader)
            losses = F.cross_entropy(model(x), y, reduction="none")
            eif.observe(losses)                                              # EIF
            optimizer.zero_grad()
            losses.mean().backward()
            optimizer.step()
        print(eif.metrics["kept_fraction_total"], eif.threshold)
    """

    def __init__(
        self,
        filter_model: torch.nn.Module,
        ratio: float = _core.FILTER["ratio"],
        lr: float = _core.FILTER["lr"],
        momentum: float = _core.FILTER["momentum"],
        weight_decay: float = _core.FILTER["weight_decay"],
        lr_milestones: Sequence[int] = tuple(_core.FILTER["lr_milestones"]),
        lr_factor: float = _core.FILTER["lr_factor"],
        entropy_threshold: float = _core.FILTER["entropy_threshold"],
        a1: float = _core.FILTER["a1"],
        a2: float = _core.FILTER["a2"],
        window: int = _core.FILTER["window"],
        init_threshold: float = _core.FILTER["init_threshold"],
        warmup_batches: int = _core.FILTER["warmup_batches"],
        threshold_min: float = _core.FILTER["threshold_min"],
        threshold_max: float = _core.FILTER["threshold_max"],
        min_query: float = _core.FILTER["min_query"],
        control: str = _core.FILTER["control"],
        rank_within: str = _core.FILTER["rank_within"],
        optimizer: Optional[torch.optim.Optimizer] = None,
        process_group: Optional["dist.ProcessGroup"] = None,
    ):
        where = "EarlyInstanceFilter"
        _checks.module(where, "filter_model", filter_model)
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"{where}: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        options = dict(ratio=ratio, lr=lr, momentum=momentum, weight_decay=weight_decay,
                       lr_milestones=list(lr_milestones) if isinstance(lr_milestones, (list, tuple)) else lr_milestones,
                       lr_factor=lr_factor, entropy_threshold=entropy_threshold, a1=a1, a2=a2, window=window,
                       init_threshold=init_threshold, warmup_batches=warmup_batches, threshold_min=threshold_min,
                       threshold_max=threshold_max, min_query=min_query, control=control,
                       rank_within=rank_within)
        # JSON carries no inf or nan: those are refused here, every other type and range by the C++ options.
        for name, value in options.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{where}: {name} must be finite, got {value}")
        try:
            options_json = json.dumps(options)
        except TypeError as error:
            raise TypeError(f"{where}: options must be numbers, strs (control, rank_within) and a list of ints "
                            f"(lr_milestones): {error}") from None
        _checks.by_core(where, self._make_controller, options_json)
        self._group = _data_parallel_group(process_group)
        if self._group is not None and control != "budget":
            raise ValueError(f"{where}: control {control!r} can keep nothing on one rank while another trains, "
                             f"which stalls a data-parallel loop; use control='budget' with a process group")
        self.filter_model = filter_model
        self._rank_within = rank_within
        self._broadcast_filter()
        self._own_optimizer = optimizer is None
        self.optimizer = optimizer if optimizer is not None else torch.optim.SGD(
            filter_model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        self._pending = None  # (x, keep, query, prob_high, query_losses) of the batch last yielded
        self.last_filter_loss = 0.0
        self.filter_forward_instances = 0
        self.filter_trained_instances = 0
        self.loss_only_instances = 0

    def _make_controller(self, options_json):
        self._controller = torch.classes.skiptrain.FilterController(options_json)

    # -- the loop ---------------------------------------------------------------------------------

    def wrap(self, loader: Iterable, model: torch.nn.Module,
             loss_fn: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None
             ) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """Yields the kept ``(x, y)`` sub-batch of each ``(x, y)`` batch of ``loader``.

        Call ``observe(per_instance_losses)`` after each yielded batch. Batches where
        nothing is kept are never yielded: they are observed here (the filter still
        learns from their uncertainty-sampled instances).

        Args:
            loader: any iterable of ``(x, y)`` batches (a DataLoader), x of shape [m, ...].
            model: the main model; used here only for the loss-only forwards (eval mode, no grad).
            loss_fn: ``loss_fn(outputs, y) -> [n]`` per-instance losses, the same the loop uses;
                default per-instance cross-entropy.

        Returns:
            an iterator of ``(x[keep], y[keep])``, on the loader's device.

        Example::

            for x, y in eif.wrap(loader, model):
                losses = F.cross_entropy(model(x), y, reduction="none")
                eif.observe(losses)
        """
        _checks.module("EarlyInstanceFilter.wrap", "model", model)
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError(f"EarlyInstanceFilter.wrap: loss_fn must be callable, got {type(loss_fn).__name__}")
        loss_fn = loss_fn or _per_instance_cross_entropy
        for batch in loader:
            if self._pending is not None:
                raise RuntimeError("EarlyInstanceFilter: call observe(per_instance_losses) after each batch "
                                   "that wrap() yields, before asking for the next one")
            x, y = batch[0], batch[1]
            _checks.tensor("EarlyInstanceFilter.wrap", "a batch's x", x)
            _checks.tensor("EarlyInstanceFilter.wrap", "a batch's y", y)
            if x.dim() == 0 or y.dim() == 0 or x.shape[0] != y.shape[0]:
                raise ValueError(f"EarlyInstanceFilter.wrap: a batch's x and y must have the same first dimension, "
                                 f"got shapes {list(x.shape)} and {list(y.shape)}")
            keep, query, prob_high = self._decide(x, y)
            query_losses = self._loss_only(model, loss_fn, x, y, query)
            self._pending = (x, keep, query, prob_high, query_losses)
            if keep.numel() == 0:
                self.observe(torch.empty(0))
                continue
            k = keep.to(x.device)
            yield x.index_select(0, k), y.index_select(0, keep.to(y.device))

    def observe(self, per_instance_loss: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Closes the self-supervised loop for the batch ``wrap`` just yielded.

        Labels the kept and uncertainty-sampled instances (High when loss >= T_l),
        updates T_l and the metrics, and trains the filter one step on them.

        Args:
            per_instance_loss: the main model's losses [k] of the yielded instances, in order
                (detached here; the caller's graph is untouched).

        Returns:
            dict with ``labelled`` (int64 batch indices), ``labels`` (1 = High) and ``weights``.

        Example::

            losses = F.cross_entropy(model(x), y, reduction="none")
            eif.observe(losses)
        """
        if self._pending is None:
            raise RuntimeError("EarlyInstanceFilter.observe: no batch is waiting; iterate over wrap() first")
        x, keep, query, prob_high, query_losses = self._pending
        _checks.tensor("EarlyInstanceFilter.observe", "per_instance_loss", per_instance_loss, floating=True)
        if per_instance_loss.dim() != 1 or per_instance_loss.numel() != keep.numel():
            raise ValueError(f"EarlyInstanceFilter.observe: per_instance_loss must hold {keep.numel()} per-instance "
                             f"losses, shape [{keep.numel()}] (use reduction='none'), got shape "
                             f"{list(per_instance_loss.shape)}")
        self._pending = None
        kept_losses = per_instance_loss.detach().float().cpu()
        iteration = self._controller.batches()
        labelled, labels, weights, counts = self._controller.label(keep, query, prob_high, kept_losses, query_losses)
        self._controller.record(self._sum_over_ranks(counts))
        self._train_filter(x, labelled, labels, weights, iteration)
        return {"labelled": labelled, "labels": labels, "weights": weights}

    # -- figures and state ------------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        """The current loss threshold T_l."""
        return self._controller.threshold()

    @property
    def metrics(self) -> Dict[str, float]:
        """Running figures: threshold, r_th, kept_fraction_window/total, queried_fraction_total,
        wrong_rate_window/total, counts (batches, incoming, kept, queried, labelled,
        labelled_high, wrong), warming_up (1.0/0.0), and the filter's instance counts."""
        m = dict(self._controller.metrics())
        m["filter_forward_instances"] = float(self.filter_forward_instances)
        m["filter_trained_instances"] = float(self.filter_trained_instances)
        m["loss_only_instances"] = float(self.loss_only_instances)
        return m

    def state_dict(self) -> Dict[str, object]:
        """The controller's state (tensors), the filter's and the optimizer's state dicts."""
        return {"controller": dict(self._controller.state()),
                "filter": self.filter_model.state_dict(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        """Restores ``state_dict()``."""
        if not isinstance(state, dict):
            raise TypeError(f"EarlyInstanceFilter.load_state_dict: state must be a dict, got {type(state).__name__}")
        missing = {"controller", "filter", "optimizer"} - set(state)
        if missing:
            raise ValueError(f"EarlyInstanceFilter.load_state_dict: state is missing {sorted(missing)} "
                             f"(use a dict from state_dict())")
        self._controller.load_state(dict(state["controller"]))
        self.filter_model.load_state_dict(state["filter"])
        self.optimizer.load_state_dict(state["optimizer"])

    # -- internals --------------------------------------------------------------------------------

    def _decide(self, x: torch.Tensor, y: torch.Tensor):
        was_training = self.filter_model.training
        self.filter_model.eval()
        with torch.no_grad():
            logits = self.filter_model(x.to(_device_of(self.filter_model, x.device)))
        self.filter_model.train(was_training)
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape != (x.shape[0], 2):
            raise ValueError(f"EarlyInstanceFilter: filter_model must map a batch of {x.shape[0]} to logits of shape "
                             f"[{x.shape[0]}, 2], got {list(logits.shape) if isinstance(logits, torch.Tensor) else logits}")
        self.filter_forward_instances += x.shape[0]
        return self._controller.decide(logits, y if self._rank_within == "class" else None)

    def _loss_only(self, model, loss_fn, x, y, query):
        if query.numel() == 0:
            return torch.empty(0)
        self.loss_only_instances += query.numel()
        device = _device_of(model, x.device)
        was_training = model.training
        model.eval()  # eval: no BatchNorm statistics from loss-only passes, and a batch of 1 works
        try:
            with torch.no_grad():
                q = query.to(x.device)
                xq = x.index_select(0, q).to(device)
                yq = y.index_select(0, query.to(y.device)).to(device)
                losses = loss_fn(model(xq), yq)
        finally:
            model.train(was_training)
        losses = losses.detach().reshape(-1).float().cpu()
        if losses.numel() != query.numel():
            raise ValueError("EarlyInstanceFilter: loss_fn must return per-instance losses (reduction='none')")
        return losses

    def _train_filter(self, x, labelled, labels, weights, iteration):
        self.last_filter_loss = 0.0
        if labelled.numel() == 0 and self._group is None:
            return
        if self._own_optimizer:
            lr = self._controller.lr_at(iteration)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        device = _device_of(self.filter_model, x.device)
        was_training = self.filter_model.training
        self.filter_model.train()
        self.optimizer.zero_grad()
        loss = torch.zeros(())
        if labelled.numel() > 0:
            with torch.enable_grad():
                xl = x.index_select(0, labelled.to(x.device)).to(device)
                logits = self.filter_model(xl)
                nll = F.cross_entropy(logits, labels.to(device), reduction="none")
                loss = (nll * weights.to(device=device, dtype=nll.dtype)).sum()
                loss.backward()
        loss = self._average_over_ranks(float(loss.detach()), labelled.numel() > 0)
        if loss is not None:  # None: no rank labelled anything
            self.optimizer.step()
        self.filter_model.train(was_training)
        self.filter_trained_instances += labelled.numel()
        self.last_filter_loss = loss or 0.0

    # -- data parallel ----------------------------------------------------------------------------

    def _backend_device(self, t: torch.Tensor) -> torch.device:
        """Where the group's collectives take `t`: NCCL reduces GPU tensors only (the filter's GPU)."""
        if dist.get_backend(self._group) != "nccl":
            return t.device
        device = _device_of(self.filter_model, t.device)
        return device if device.type == "cuda" else torch.device("cuda", torch.cuda.current_device())

    def _all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        on = t.to(self._backend_device(t))
        dist.all_reduce(on, group=self._group)
        return on.to(t.device)

    def _sum_over_ranks(self, counts: torch.Tensor) -> torch.Tensor:
        return counts if self._group is None else self._all_reduce(counts)

    def _average_over_ranks(self, loss: float, trained: bool) -> Optional[float]:
        """Averages the filter's gradients over the ranks that trained (and its floating buffers over
        all ranks) in one all-reduce; returns the mean of their losses, None when none trained."""
        if self._group is None:
            return loss
        params = [p for p in self.filter_model.parameters() if p.requires_grad]
        buffers = [b for b in self.filter_model.buffers() if b.is_floating_point()]
        parts = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), device=p.device, dtype=p.dtype)
                 for p in params]
        parts += [b.reshape(-1).to(params[0].dtype) for b in buffers]
        parts.append(torch.tensor([loss, float(trained)], dtype=params[0].dtype, device=params[0].device))
        flat = self._all_reduce(torch.cat(parts))
        trained_ranks = float(flat[-1])
        if trained_ranks == 0:
            return None
        ranks = dist.get_world_size(self._group)
        offset = 0
        with torch.no_grad():
            for p in params:
                grad = flat[offset:offset + p.numel()].view_as(p) / trained_ranks
                if p.grad is None:
                    p.grad = grad.clone()
                else:
                    p.grad.copy_(grad)
                offset += p.numel()
            for b in buffers:
                b.copy_(flat[offset:offset + b.numel()].view_as(b) / ranks)
                offset += b.numel()
        return float(flat[-2]) / trained_ranks

    def _broadcast_filter(self) -> None:
        """Every rank starts from the filter of the group's rank 0."""
        if self._group is None:
            return
        source = dist.get_global_rank(self._group, 0)
        with torch.no_grad():
            for t in list(self.filter_model.parameters()) + list(self.filter_model.buffers()):
                self._broadcast(t, source)

    def _broadcast(self, t: torch.Tensor, source: int) -> None:
        on = t.detach().to(self._backend_device(t)).contiguous()
        dist.broadcast(on, src=source, group=self._group)
        t.copy_(on)


def _data_parallel_group(process_group):
    """The group a filter shares itself with: the one given, else torch.distributed's default group
    when initialized with more than one rank; None for a single process."""
    if process_group is not None:
        return process_group if dist.get_world_size(process_group) > 1 else None
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.group.WORLD
    return None
