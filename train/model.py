"""An LSTM with hidden-state pruning in the forward pass (docs/contract.md section 1), in PyTorch.

``h = o * tanh(c)`` is set to exactly 0 where ``|h| < theta``. ``prune_grad`` chooses the
gradient of the pruning: ``"ste"`` (default) passes it straight through (as if the pruning
were the identity), ``"zero"`` passes none to a pruned element (a unit below theta gets no
push from the task back over it). Parameters live in an ``nn.LSTM`` so that
``golden.params.from_torch`` exports them unchanged. Optional fake quantisation (straight-
through rounding of weights, bias, h and c to the hardware formats) serves fine-tuning.

``norm="batch"`` normalises the two terms of the gate pre-activations, ``W_ih x`` and
``W_hh h``, each row by its batch statistics (the recurrent one at every step), with a learnt
scale per row (Cooijmans et al. 2017, recurrent batch normalisation, without the cell-state
normalisation, which the hardware could not compute). In evaluation it uses running
statistics, which makes it affine per row, so :meth:`SparseLSTM.fold_norm` folds it into
``W_ih``, ``W_hh`` and ``b`` exactly: the exported model is a plain LSTM and the hardware's
arithmetic is unchanged. The first training batch sets the running statistics and the scales
so that the normalised model starts as the plain one (a fine-tune from ``--init``); fake
quantisation applies to the folded weights, so quantisation-aware epochs fold first.
"""

from __future__ import annotations

import torch
from torch import nn

from golden.bundle import load_bundle
from golden.layout import N_GATES

__all__ = ["SparseLSTM", "GateNorm", "fake_quant", "load_float_params", "activity_penalty",
           "distilled", "load_teacher"]


def fake_quant(x, fmt):
    """Round half to even and saturate to ``fmt`` in the forward pass; identity gradient."""
    scale = float(2 ** fmt.frac)
    q = torch.clamp(torch.round(x * scale), fmt.min, fmt.max) / scale
    return x + (q - x).detach()


def activity_penalty(pre, theta, kind="l1", tau=0.05):
    """The sparsity penalty on the pre-threshold h, a mean over its elements.

    ``"l1"``: ``|h|``, which also shrinks the units that stay above theta. ``"l0"``: a smooth
    count of the elements at or above theta, ``sigmoid((|h| - theta) / tau)``: its gradient is
    concentrated within a few ``tau`` of the threshold, so a unit well above it (one that
    carries information) is left alone while one just above it is pushed under.
    """
    if kind == "l1":
        return pre.abs().mean()
    if kind == "l0":
        return torch.sigmoid((pre.abs() - theta) / tau).mean()
    raise ValueError(f"penalty={kind!r}; allowed: 'l1', 'l0'")


def distilled(loss, logits, teacher_logits, kd):
    """``(1 - kd) * loss + kd * KL(teacher || student)`` over the last axis of the logits, a mean
    over the rest: the task loss mixed with matching a (dense) teacher's output distribution."""
    log_p = torch.log_softmax(logits, -1)
    log_t = torch.log_softmax(teacher_logits, -1)
    kl = nn.functional.kl_div(log_p, log_t, log_target=True, reduction="none").sum(-1).mean()
    return (1.0 - kd) * loss + kd * kl


class GateNorm(nn.Module):
    """Batch normalisation of the input and recurrent terms of the ``rows`` gate
    pre-activations; the shift is left to the LSTM's bias. ``calibrated`` and ``folded`` are
    buffers, so a checkpoint resumes in the same state."""

    EPS = 1e-3
    MOMENTUM = 0.02          # of the running statistics, per batch

    def __init__(self, rows):
        super().__init__()
        self.gain_x = nn.Parameter(torch.ones(rows))
        self.gain_h = nn.Parameter(torch.ones(rows))
        for name in ("mean_x", "mean_h"):
            self.register_buffer(name, torch.zeros(rows))
        for name in ("var_x", "var_h"):
            self.register_buffer(name, torch.ones(rows))
        self.register_buffer("calibrated", torch.zeros((), dtype=torch.bool))
        self.register_buffer("folded", torch.zeros((), dtype=torch.bool))

    def scales(self):
        """The per-row factors of ``W_ih x`` and ``W_hh h`` in evaluation."""
        return (self.gain_x * torch.rsqrt(self.var_x + self.EPS),
                self.gain_h * torch.rsqrt(self.var_h + self.EPS))

    @torch.no_grad()
    def calibrate(self, xw, rec):
        """Running statistics from this batch's terms (``xw`` (B, T, G), ``rec`` (T, B, G) of
        the plain model); the gains make the normalisation the identity on them."""
        self.mean_x.copy_(xw.mean((0, 1)))
        self.var_x.copy_(xw.var((0, 1), unbiased=False))
        self.mean_h.copy_(rec.mean((0, 1)))
        self.var_h.copy_(rec.var((0, 1), unbiased=False))
        self.gain_x.copy_(torch.sqrt(self.var_x + self.EPS))
        self.gain_h.copy_(torch.sqrt(self.var_h + self.EPS))
        self.calibrated.fill_(True)

    @torch.no_grad()
    def update(self, mean_x, var_x, mean_h, var_h):
        for buf, v in ((self.mean_x, mean_x), (self.var_x, var_x), (self.mean_h, mean_h),
                       (self.var_h, var_h)):
            buf.lerp_(v.detach(), self.MOMENTUM)


class SparseLSTM(nn.Module):
    """One LSTM layer with pruned state and a linear read-out.

    ``inputs`` is either a (B, T) tensor of symbol ids (one-hot inputs: the input projection
    is a column lookup of W_ih) or a (B, T, X) float tensor.
    """

    def __init__(self, input_size, hidden_size, n_out, theta=0.0, prune_grad="ste",
                 norm="none"):
        super().__init__()
        if prune_grad not in ("zero", "ste"):
            raise ValueError(f"prune_grad={prune_grad!r}; allowed: 'zero', 'ste'")
        if norm not in ("none", "batch"):
            raise ValueError(f"norm={norm!r}; allowed: 'none', 'batch'")
        self.prune_grad = prune_grad
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, n_out)
        self.norm = GateNorm(N_GATES * hidden_size) if norm == "batch" else None
        self.theta = theta
        self.quant = None                 # golden Config when fake quantisation is on

    def params(self):
        w_ih, w_hh = self.lstm.weight_ih_l0, self.lstm.weight_hh_l0
        b = self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0
        if self.quant is not None:
            f = self.quant.formats
            w_ih, w_hh = fake_quant(w_ih, f.weight), fake_quant(w_hh, f.weight)
            b = fake_quant(b, f.bias)
        return w_ih, w_hh, b

    def forward(self, inputs, state=None, return_pre=False):
        """Returns ``(h_all (B, T, H), (h, c), h_pre_all)``; ``h_pre_all`` (before pruning)
        only when ``return_pre``."""
        if self.quant is not None:
            self.fold_norm()              # fake quantisation rounds the folded weights
        norm = self.norm if self.norm is not None and not self.norm.folded else None
        w_ih, w_hh, b = self.params()
        H = w_hh.shape[1]
        if inputs.dtype in (torch.int64, torch.int32):
            xw = nn.functional.embedding(inputs, w_ih.t())           # one-hot x
        else:
            if self.quant is not None:
                inputs = fake_quant(inputs, self.quant.formats.input)
            xw = inputs @ w_ih.t()
        B, T = xw.shape[:2]
        if state is None:
            h = xw.new_zeros(B, H)
            c = xw.new_zeros(B, H)
        else:
            h, c = state
        if norm is not None:
            if self.training and not norm.calibrated:
                self._calibrate(xw, h, c, w_hh, b)
            if self.training:
                mean_x, var_x = xw.mean((0, 1)), xw.var((0, 1), unbiased=False)
            else:
                mean_x, var_x = norm.mean_x, norm.var_x
            xw = (xw - mean_x) * (norm.gain_x * torch.rsqrt(var_x + norm.EPS))
            means, variances = [], []
        hs, pres = [], []
        xw_t = xw.unbind(1)               # one backward node, not one (B, T, 4H) zero-fill per step
        for t in range(T):
            if norm is None:
                a = torch.addmm(xw_t[t] + b, h, w_hh.t())
            else:
                z = h @ w_hh.t()
                if self.training:
                    mean_h, var_h = z.mean(0), z.var(0, unbiased=False)
                    means.append(mean_h.detach())
                    variances.append(var_h.detach())
                else:
                    mean_h, var_h = norm.mean_h, norm.var_h
                a = xw_t[t] + (z - mean_h) * (norm.gain_h * torch.rsqrt(var_h + norm.EPS)) + b
            c, h_pre = self._cell(a, c)
            if self.theta > 0:
                keep = (h_pre.abs() >= self.theta).to(h_pre.dtype)
                if self.prune_grad == "zero":
                    h = h_pre * keep
                else:
                    h = h_pre - (h_pre * (1 - keep)).detach()
            else:
                h = h_pre
            hs.append(h)
            if return_pre:
                pres.append(h_pre)
        if norm is not None and self.training:
            norm.update(mean_x, var_x, torch.stack(means).mean(0), torch.stack(variances).mean(0))
        h_all = torch.stack(hs, dim=1)
        return h_all, (h, c), (torch.stack(pres, dim=1) if return_pre else None)

    def _cell(self, a, c):
        """The cell and the unpruned h from the gate pre-activations ``a`` (fake-quantised to
        the hardware formats when quantisation is on)."""
        i, f, g, o = a.chunk(N_GATES, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.quant is not None:
            c = fake_quant(c, self.quant.formats.cell)
        h = torch.sigmoid(o) * torch.tanh(c)
        if self.quant is not None:
            h = fake_quant(h, self.quant.formats.state)
        return c, h

    @torch.no_grad()
    def _calibrate(self, xw, h, c, w_hh, b):
        """The first training batch of a normalised model: statistics of its two terms through
        the plain LSTM, gains that make the normalisation the identity on them, and the means
        added to the bias. (This batch itself still runs with the bias ``b`` given.)"""
        rec = []
        for t in range(xw.shape[1]):
            z = h @ w_hh.t()
            rec.append(z)
            c, h = self._cell(xw[:, t] + z + b, c)
        self.norm.calibrate(xw, torch.stack(rec))
        self.lstm.bias_ih_l0.add_(self.norm.mean_x + self.norm.mean_h)

    @torch.no_grad()
    def fold_norm(self):
        """Folds the normalisation, at its running statistics, into ``W_ih``, ``W_hh`` and the
        bias; from then on the model is a plain LSTM (what the bundle exports). Does nothing
        without a normalisation or once folded."""
        n = self.norm
        if n is None or n.folded:
            return
        sx, sh = n.scales()
        bias = self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0 - n.mean_x * sx - n.mean_h * sh
        self.lstm.weight_ih_l0.mul_(sx[:, None])
        self.lstm.weight_hh_l0.mul_(sh[:, None])
        self.lstm.bias_ih_l0.copy_(bias)
        self.lstm.bias_hh_l0.zero_()
        n.folded.fill_(True)


def load_float_params(model, bundle):
    """Copies a model bundle's float LSTM parameters and read-out into ``model`` (the start of
    a sparse fine-tuning from a dense baseline). The bundle's single bias goes to ``bias_ih``."""
    fp = bundle.float_params
    with torch.no_grad():
        for dst, src in ((model.lstm.weight_ih_l0, fp.w_ih), (model.lstm.weight_hh_l0, fp.w_hh),
                         (model.lstm.bias_ih_l0, fp.b), (model.out.weight, bundle.readout_w),
                         (model.out.bias, bundle.readout_b)):
            if tuple(dst.shape) != src.shape:
                raise ValueError(f"model bundle {str(bundle.path)!r}: a parameter of shape "
                                 f"{src.shape} does not fit this model's {tuple(dst.shape)}")
            dst.copy_(torch.from_numpy(src).to(dst.dtype))
        model.lstm.bias_hh_l0.zero_()
    return model


def load_teacher(path, cfg, input_size, n_out):
    """The float model of bundle ``path`` (checked against ``cfg``), frozen for distillation."""
    model = load_float_params(SparseLSTM(input_size, cfg.hidden_size, n_out),
                              load_bundle(path, cfg))
    return model.eval().requires_grad_(False)
