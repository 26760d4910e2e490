"""The ``automaton`` text->text recipe: addition (and subtraction) of numbers of any length.

A recurrent network with a continuous state (the ``columns`` and ``columns-long`` GRUs) learns a carry that holds for
the few columns it was trained on and drifts beyond them: trained on two-digit operands, ``columns-long`` adds
10-digit numbers two times in three. People add any length with a finite rule: a carry that is 0 or 1, the same at every
column. This model has that shape and learns the rule from examples:

1. **Aligned input**, as ``columns``: column t holds (operator, a_t, b_t), units first, zero-padded. No position is
   given to the network, so the 100th column looks like the 2nd.
2. **Readers** walk the columns from the units up, each with one of ``read_states`` symbols as its state (soft
   while training, one symbol when answering); their last symbols (with the operator) give the answer's sign,
   written first. Several readers side by side, because one alone failed to learn to compare on some seeds.
3. **A writer** walks the columns from the units up with one of ``write_states`` symbols as its state (a
   straight-through one-hot: hard forward, softmax gradients backward). At each column it adds the vectors of
   the two digits and of its state in the context of (operator, sign written) and reads off the answer digit
   and its next symbol. The sign is teacher-forced while training, as any decoder's previous output.

What the symbols mean, every digit sum, carry and sign is learned from the answers. The model is told one
thing about '+': for operators in ``symmetric_ops`` ('+' by default) a column's two digits are read as an
unordered pair, so 9+1 with a carry is read as 1+9 with a carry even if a split never showed it that way round.
With discrete states and the same function at every column, what is right on the trained columns is right on
any number of them; that is how addition of 100-digit numbers follows from 2-digit data.

Subtraction does not follow from a table of its own: a two-digit answer never borrows through a column whose
top digit is not larger (the tens column is the last), so 110 of the 400 (digits, sign, borrow) columns a long
subtraction needs never occur in two-digit data. With ``subtract_by_adding`` (the recipe's choice) the model is
told one thing about '-', that it undoes '+', and answers a - b as people check a difference: the c with
b + c = a, found column by column with its own learned '+' column (every digit tried, the carry that column
makes with the chosen one passed up as the borrow). When the sum must carry out of the top column no such c
exists and the answer is negative (the last carry's meaning for the sign is learned); its digits are then the
c with a + c = b. Every '+' column occurs in two-digit sums, so subtraction holds at any length as addition
does. The readers then give only the sign of a sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.config import require, validate
from latentworks.models.aligned import AlignedTextToText
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.registry import register_model


@dataclass
class ColumnAutomatonConfig:
    shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
    zero_pad: ClassVar[bool] = True  # columns and answers are always fixed-width here (see ``columns``' zero_pad)
    read_states: int = 3  # symbols of each reader's state (which operand is larger: 3 suffice)
    # Readers side by side, each with its own weights; the sign reads all their last symbols. One reader alone
    # never learned to compare on about one seed in three; with several, one that did is enough.
    readers: int = 4
    write_states: int = 2  # symbols of the writer's state (a carry or a borrow: 2 suffice)
    dim: int = 16  # size of the vectors a column's digits and the state add into
    hidden: int = 128  # hidden units of each readout network
    # Operators whose two digits are read as an unordered pair (a column 9+1 is read as 1+9). One of the two
    # things this model is told about arithmetic; '' tells it nothing.
    symmetric_ops: str = "+"
    # Each training batch gets 0..pad_columns extra leading zero columns (a '3+6' seen as '0003+0006').
    pad_columns: int = 4
    # Answer a - b as the c with b + c = a, found with the model's own learned '+' columns (the sign: whether
    # that sum has to carry out of the top column), instead of with readers and a writer of its own. The other
    # thing the model is told; without it '-' fails beyond two digits. The ``automaton`` recipe turns it on.
    subtract_by_adding: bool = False

    def check(self) -> None:
        require("*" not in self.shape.charset, "ops", "".join(c for c in self.shape.charset if c in "+-*"),
                "automaton cannot multiply; use --preset columns-multiply")
        require(self.hidden >= 1 and self.dim >= 1, "hidden", self.hidden, "and --dim must be >= 1")
        require(self.read_states >= 2, "read_states", self.read_states, "must be >= 2")
        require(self.readers >= 1, "readers", self.readers, "must be >= 1")
        require(self.write_states >= 2, "write_states", self.write_states, "must be >= 2")
        require(set(self.symmetric_ops) <= set("+-"), "symmetric_ops", self.symmetric_ops, "may hold only + and -")
        require(self.pad_columns >= 0, "pad_columns", self.pad_columns, "must be >= 0")
        require(not self.subtract_by_adding or "+" in self.shape.charset, "subtract_by_adding", self.subtract_by_adding,
                "answers '-' with the learned '+': add '+' to --ops or pass --no-subtract-by-adding")


def hard_symbol(logits: torch.Tensor) -> torch.Tensor:
    """One-hot of the most likely symbol, carrying the softmax's gradient (straight-through)."""
    soft = logits.softmax(-1)
    hard = F.one_hot(soft.argmax(-1), soft.shape[-1]).to(soft.dtype)
    return hard + soft - soft.detach()


def readout(dim: int, hidden: int, out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, out))


class GroupedReadout(nn.Module):
    """``groups`` independent two-hidden-layer networks applied side by side: (N, groups, d_in) -> (N, groups, out)."""

    def __init__(self, groups: int, d_in: int, hidden: int, out: int):
        super().__init__()
        shapes = [(d_in, hidden), (hidden, hidden), (hidden, out)]
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(groups, i, o) / i ** 0.5) for i, o in shapes)
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(groups, o)) for _, o in shapes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.einsum("ngi,gio->ngo", x, w) + b
            x = torch.relu(x) if k < len(self.weights) - 1 else x
        return x


@register_model("text2text_automaton", family="arithmetic",
                title="column automaton (text→text)", capabilities=("answer",), step_seconds=0.014,
                scoring_seconds=5.0)
class ColumnAutomaton(AlignedTextToText):
    """Query ids (B, Lq) -> logits (B, 1 + La, V): the answer's sign, then its digits units first."""

    Config = ColumnAutomatonConfig

    def __init__(self, config: ColumnAutomatonConfig):
        nn.Module.__init__(self)
        validate(config)
        self.config = config
        V, H, D = config.shape.vocab_size, config.hidden, config.dim
        R, W = config.read_states, config.write_states
        self.layout_ids()  # the re-layouts are ``columns``'
        ops = [c for c in "+-" if c in config.shape.charset]
        self.register_buffer("symmetric", torch.tensor([c in config.symmetric_ops and c in ops for c in
                                                        config.shape.charset]), persistent=False)
        # Readers: (operator, a_t, b_t, state) -> next state, from the units up; one set per operator (shared ones
        # were pulled into a single symbol by the '+' rows, whose sign never changes).
        K = config.readers
        self.read_a, self.read_b = nn.Embedding(V * 10, K * D), nn.Embedding(V * 10, K * D)
        own = [c for c in ops if not (c == "-" and config.subtract_by_adding)]  # readers and a writer; see ``subtract``
        self.readers = nn.ModuleList(GroupedReadout(K, R + D, H, R) for _ in own)
        self.sign_head = nn.Embedding(V * K * R, V)  # (operator, reader, its last symbol) -> the sign, summed
        # Writer: its context is (operator, sign written); one readout per operator.
        self.first_state = nn.Embedding(V * V, W)
        self.write_a, self.write_b = nn.Embedding(V * V * 10, D), nn.Embedding(V * V * 10, D)
        self.write_state = nn.Linear(W, D)
        self.writers = nn.ModuleList(readout(D, H, V + W) for _ in own)
        self.network_of = {config.shape.charset.index(c): k for k, c in enumerate(own)}  # operator id -> its networks
        self.plus = config.shape.charset.index("+") if "+" in ops else -1
        self.by_adding = config.shape.charset.index("-") if config.subtract_by_adding and "-" in ops else -1
        self.overflow_sign = nn.Linear(W, V) if self.by_adding >= 0 else None  # the last carry -> the sign

    def run(self, cols: torch.Tensor, sign: torch.Tensor | None = None,
            answer: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, 3) column ids, units first -> (B, 1 + T, V) logits: the sign, then the digits units first.
        ``sign`` (B,) and ``answer`` (B, T): the true sign's and digits' ids (teacher forcing); without them the
        predicted ones are used."""
        B, T, _ = cols.shape
        op, digits = cols[:, 0, 0], cols[..., 1:].clamp(max=9)  # zero-padded: every column holds two digits
        logits = self.first_state.weight.new_zeros(B, 1 + T, self.config.shape.vocab_size)
        inverted = op == self.by_adding
        for part, rows in ((self.read_then_write, (~inverted).nonzero()[:, 0]),
                           (self.subtract, inverted.nonzero()[:, 0])):
            if len(rows):
                logits[rows] = part(op[rows], digits[rows], None if sign is None else sign[rows],
                                    None if answer is None else answer[rows])
        return logits

    def read_then_write(self, op: torch.Tensor, digits: torch.Tensor, sign: torch.Tensor | None,
                        answer: torch.Tensor | None) -> torch.Tensor:
        """The readers give the sign, then the writer writes the digits in the context (operator, sign)."""
        B, T, _ = digits.shape
        V, R, K, D = self.config.shape.vocab_size, self.config.read_states, self.config.readers, self.config.dim
        both = self.symmetric[op][:, None]
        state = F.one_hot(torch.zeros_like(op), R).float()[:, None].expand(B, K, R)  # symbol 0 below the units
        for t in range(T):
            a, b = digits[:, t, 0], digits[:, t, 1]
            pair = self.read_a(op * 10 + a) + torch.where(both, self.read_a(op * 10 + b), self.read_b(op * 10 + b))
            scores = self.per_operator(self.readers, op, torch.cat([pair.view(B, K, D), state], -1))
            # Soft while training (the readers learn to compare more easily so), one symbol when answering.
            state = scores.softmax(-1) if self.training else hard_symbol(scores)
        table = self.sign_head.weight.view(V, K * R, V)[op]
        sign_logits = torch.einsum("bs,bsv->bv", state.reshape(B, K * R), table)
        sign = sign_logits.argmax(-1) if sign is None else sign
        return torch.cat([sign_logits[:, None], self.write(op, sign, digits)], 1)

    def add_column(self, op: torch.Tensor, sign: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                   carry: torch.Tensor) -> torch.Tensor:
        """One column of the writer: (digits a, b, state symbol) in the context (op, sign) -> (..., V + W)
        scores of the answer digit and of the next state symbol."""
        context = (op * self.config.shape.vocab_size + sign) * 10
        both = self.symmetric[op]
        x = self.write_a(context + a) + torch.where(both[..., None], self.write_a(context + b),
                                                    self.write_b(context + b)) + self.write_state(carry)
        flat = self.per_operator(self.writers, op.reshape(-1), x.reshape(-1, x.shape[-1]))
        return flat.view(*op.shape, -1)

    def write(self, op: torch.Tensor, sign: torch.Tensor, digits: torch.Tensor) -> torch.Tensor:
        """The writer walking the columns: (B,) context, (B, T, 2) digits -> (B, T, V) logits."""
        V = self.config.shape.vocab_size
        carry = hard_symbol(self.first_state(op * V + sign))
        logits = []
        for t in range(digits.shape[1]):
            out = self.add_column(op, sign, digits[:, t, 0], digits[:, t, 1], carry)
            logits.append(out[:, :V])
            carry = hard_symbol(out[:, V:])
        return torch.stack(logits, 1)

    def subtract(self, op: torch.Tensor, digits: torch.Tensor, sign: torch.Tensor | None,
                 answer: torch.Tensor | None) -> torch.Tensor:
        """'-' by the learned '+', as people check a difference: a - b = c when b + c = a. A first pass finds the
        c with b + c = a; if that sum has to carry out of the top column, no such c exists and the answer is
        negative (what the last carry symbol means for the sign is learned). A negative answer's digits come from
        a second pass, a + c = b."""
        positive = None if sign is None else sign != self.minus
        digit_logits, overflow = self.inverse_add(digits[..., 0], digits[..., 1], answer, positive)
        sign_logits = self.overflow_sign(overflow.detach())  # the sign must not bend what a carry means
        negative = (sign_logits.argmax(-1) if sign is None else sign) == self.minus
        if negative.any():
            rows = negative.nonzero()[:, 0]
            digit_logits = digit_logits.index_put((rows,), self.inverse_add(
                digits[rows, :, 1], digits[rows, :, 0], None if answer is None else answer[rows], None)[0])
        return torch.cat([sign_logits[:, None], digit_logits], 1)

    def inverse_add(self, top: torch.Tensor, bottom: torch.Tensor, answer: torch.Tensor | None,
                    forced: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) digits -> (B, T, V) logits of the c with bottom + c = top, column by column from the units (the
        score of digit c is how surely the '+' column (bottom, c, carry) writes the top digit; the carry it makes
        with the chosen c is passed up), and the last carry symbol (B, W). ``answer`` (B, T) is chosen instead
        of the best c in the rows ``forced`` (B,) selects (all rows when ``forced`` is None)."""
        B, T = top.shape
        V = self.config.shape.vocab_size
        op = torch.full((B, 10), self.plus, device=top.device)
        blank = torch.full_like(op, self.pad)  # a sum's sign: none
        tries = torch.arange(10, device=top.device).expand(B, 10)
        carry = hard_symbol(self.first_state(op[:, 0] * V + blank[:, 0]))
        logits = []
        for t in range(T):
            out = self.add_column(op, blank, bottom[:, t, None].expand(B, 10), tries,
                                  carry[:, None].expand(B, 10, carry.shape[-1]))
            score = out[..., :V].log_softmax(-1).gather(-1, top[:, t, None, None].expand(B, 10, 1))[..., 0]
            logits.append(F.pad(score, (0, V - 10), value=-1e4))
            chosen = score.argmax(-1)
            if answer is not None:
                chosen = answer[:, t] if forced is None else torch.where(forced, answer[:, t], chosen)
            carry = hard_symbol(out[torch.arange(B), chosen.clamp(max=9), V:])
        return torch.stack(logits, 1), carry

    def per_operator(self, networks: nn.ModuleList, op: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Each row of ``x`` through its operator's network."""
        present = op.unique().tolist()
        if len(present) == 1:
            return networks[self.network_of[present[0]]](x)
        out = None
        for o in present:
            rows = (op == o).nonzero()[:, 0]
            y = networks[self.network_of[o]](x[rows])
            out = x.new_zeros(len(x), *y.shape[1:]) if out is None else out
            out = out.index_put((rows,), y)
        return out

    def sign_first(self, canon: torch.Tensor) -> torch.Tensor:
        """Zero-padded units-first ids ('-' in the top column) -> the sign ('-' or space), then the digits."""
        top = canon[:, -1:]
        negative = top == self.minus
        sign = torch.where(negative, top, torch.full_like(top, self.pad))
        digits = torch.cat([canon[:, :-1], torch.where(negative, torch.full_like(top, self.zero), top)], 1)
        return torch.cat([sign, digits], 1)

    def sign_last(self, ids: torch.Tensor) -> torch.Tensor:
        """The inverse of ``sign_first``: a '-' goes back into the top column."""
        sign, digits = ids[:, :1], ids[:, 1:]
        return torch.cat([digits[:, :-1], torch.where(sign == self.minus, sign, digits[:, -1:])], 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, extra: int = 0) -> torch.Tensor:
        """Logits (sign, then digits units first); ``y`` only widens (the writer never reads its outputs)."""
        return self.run(self.columns(x) if y is None else self.widen(self.columns(x), self.targets(y), extra)[0])

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Answer ids (B, La) in the run's layout."""
        return self.layout_answer(self.sign_last(self.run(self.columns(x)).argmax(-1)))

    def loss(self, x: torch.Tensor, y: torch.Tensor, extra: int = 0) -> torch.Tensor:
        """Cross-entropy of the sign and every answer column."""
        cols, canon = self.widen(self.columns(x), self.targets(y), extra)
        target = self.sign_first(canon)
        logits = self.run(cols, sign=target[:, 0], answer=target[:, 1:])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
