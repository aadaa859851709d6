"""Beam search that also returns the tree it explored, as plain data for the UI to draw.

The algorithm is ``transformers``' beam search (``generate(num_beams=k, do_sample=False)``)
step for step, so the best sequences and their scores are the ones a student would get there:

* scores are log-softmax, then the repetition penalty (the only processor ``transformers``
  applies without sampling: temperature, top-k, top-p and min-p play no part in beam search);
* only beam 0 starts at score 0 (the others at -1e9), so the first step does not pick the same
  token k times;
* each step looks at the 2k best (beam, token) continuations of all beams: the best k that do
  not end (EOS or the length limit) run on; an ending one among the best k becomes a finished
  hypothesis scored ``sum(log p) / generated_length ** length_penalty`` (EOS counted);
* the search stops when the length limit is reached, when ``early_stopping`` is True and k
  hypotheses are finished, or when k are finished and the best running beam, scored at its
  current length, cannot beat the worst of them (transformers' heuristic).

Dimension names: K = num_beams, V = vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from playground.config import SamplingParams
from playground.model import GPT
from playground.sampling import check_fits, log_probs, repetition_penalty

NEG = -1.0e9  # "impossible" score, the constant transformers uses (so ties break the same way)


@dataclass(frozen=True)
class BeamNode:
    """One node of the explored tree: a continuation (beam + token) that beam search looked at."""

    node_id: int
    step: int  # 0 = first generated token; -1 for the root (the prompt)
    parent: int | None  # node this continuation extends (None for the root)
    token_id: int | None  # None for the root
    logprob: float  # log p(token | parent's text), after the repetition penalty
    cum_logprob: float  # parent's cumulative log-prob + logprob
    kept: bool  # continues as one of the K running beams at the next step
    finished: bool  # became a finished hypothesis at this step (EOS or length limit)
    score: float | None  # cum_logprob / length ** length_penalty, for finished nodes

    @property
    def pruned(self) -> bool:
        return self.step >= 0 and not self.kept and not self.finished


@dataclass(frozen=True)
class BeamHypothesis:
    tokens: tuple[int, ...]  # generated tokens (the EOS token included when it ended with one)
    logprob: float  # sum of the tokens' log-probs
    score: float  # logprob / len(tokens) ** length_penalty: what beams are ranked by
    node_id: int  # its last node in the tree
    eos: bool  # ended with the EOS token (else it reached the length limit)


@dataclass(frozen=True)
class BeamResult:
    prompt_ids: tuple[int, ...]
    hypotheses: tuple[BeamHypothesis, ...]  # the finished hypotheses, best first (at most K)
    nodes: tuple[BeamNode, ...]  # nodes[i].node_id == i; nodes[0] is the root
    steps: int  # forward steps taken (= length of the longest explored branch)
    stop_reason: str  # "eos" (all K finished, none running can beat them) | "max_new_tokens"

    @property
    def best(self) -> BeamHypothesis:
        return self.hypotheses[0]

    def path(self, node_id: int) -> list[BeamNode]:
        """Nodes from the first generated token down to ``node_id`` (the root excluded)."""
        out = []
        node = self.nodes[node_id]
        while node.parent is not None:
            out.append(node)
            node = self.nodes[node.parent]
        return out[::-1]


@torch.no_grad()
def beam_search(
    model: GPT, prompt_ids: Sequence[int], params: SamplingParams, eos_id: int | None = None
) -> BeamResult:
    """Beam search with ``params.num_beams`` beams; the KV cache is reordered with ``select``."""
    K = params.num_beams
    prompt = [int(i) for i in prompt_ids]
    vocab = model.config.vocab_size
    if any(not 0 <= i < vocab for i in prompt) or (eos_id is not None and not 0 <= eos_id < vocab):
        raise ValueError(f"token ids must be in 0..{vocab - 1} (the model's vocabulary)")
    check_fits(len(prompt), params.max_new_tokens, model.config.block_size)
    lp, penalty, max_new = params.length_penalty, params.repetition_penalty, params.max_new_tokens
    device = model.transformer.wte.weight.device

    out = model(torch.tensor([prompt], device=device))  # prefill once: all beams share the prompt
    kv = out.kv.select(torch.zeros(K, dtype=torch.long, device=device))  # K copies
    logits = out.logits[0, -1].expand(K, -1)  # (K, V)
    V = logits.shape[-1]
    n_cand = 2 * K  # enough continuations that K can run on even if K of them end

    # running beams (K slots): generated tokens, cumulative log-prob, tree node
    run_tokens: list[tuple[int, ...]] = [()] * K
    run_scores = torch.full((K,), NEG, device=device)  # (K,)
    run_scores[0] = 0.0  # only beam 0 is real at first, so step 0 does not pick one token K times
    run_nodes = [0] * K
    # finished hypotheses (K slots, best first); a slot may still be empty (fin_done False)
    fin_scores = torch.full((K,), NEG, device=device)  # (K,)
    fin_done = torch.zeros(K, dtype=torch.bool, device=device)  # (K,)
    fin_hyps: list[BeamHypothesis | None] = [None] * K

    nodes = [BeamNode(0, -1, None, None, 0.0, 0.0, kept=True, finished=False, score=None)]
    stop = "max_new_tokens"
    for step in range(max_new):
        length = step + 1  # generated tokens once this step's token is added
        lprobs = log_probs(logits)  # (K, V)
        if penalty != 1.0:
            seen = [prompt + list(run_tokens[b]) for b in range(K)]  # each beam's own text
            lprobs = torch.stack([repetition_penalty(lprobs[b], seen[b], penalty) for b in range(K)])  # (K, V)
        total = (lprobs + run_scores[:, None]).reshape(-1)  # (K*V,) every beam x token
        cand_scores, cand_index = torch.topk(total, n_cand)  # (2K,) best first
        cand_beam, cand_token = cand_index // V, cand_index % V  # (2K,)
        ends = torch.full((n_cand,), length >= max_new, device=device)  # (2K,) hits the length limit
        if eos_id is not None:
            ends = ends | (cand_token == eos_id)

        # the K best continuations that do not end run on
        pick = torch.topk(cand_scores + ends.float() * NEG, K).indices  # (K,)
        kept = {int(i) for i in pick if not ends[i]}
        # an ending continuation among the best K becomes a finished hypothesis if it beats the
        # worst one held. (transformers also bars new ones once it may stop early; with one
        # prompt the loop has already ended by then, so that case cannot arise here.)
        just_finished = ends & (torch.arange(n_cand, device=device) < K)  # (2K,)
        fin_cand = cand_scores / (length**lp)  # (2K,) length-penalised
        fin_cand = fin_cand + (~just_finished).float() * NEG
        merged = [int(m) for m in torch.topk(torch.cat([fin_scores, fin_cand]), K).indices]  # K of 3K
        entered = {m - K for m in merged if m >= K and just_finished[m - K]}

        # record this step's 2K continuations in the tree
        first_id = len(nodes)
        cand_tokens = [run_tokens[int(cand_beam[i])] + (int(cand_token[i]),) for i in range(n_cand)]
        for i in range(n_cand):
            beam, token = int(cand_beam[i]), int(cand_token[i])
            nodes.append(BeamNode(
                node_id=first_id + i, step=step, parent=run_nodes[beam], token_id=token,
                logprob=float(lprobs[beam, token]), cum_logprob=float(cand_scores[i]),
                kept=i in kept, finished=i in entered, score=float(fin_cand[i]) if i in entered else None,
            ))
        new_hyps = {
            i: BeamHypothesis(tokens=cand_tokens[i], logprob=float(cand_scores[i]), score=float(fin_cand[i]),
                              node_id=first_id + i, eos=eos_id is not None and cand_tokens[i][-1] == eos_id)
            for i in entered
        }
        fin_hyps = [fin_hyps[m] if m < K else new_hyps.get(m - K) for m in merged]
        fin_scores = torch.cat([fin_scores, fin_cand])[merged]  # (K,)
        fin_done = torch.cat([fin_done, just_finished])[merged]  # (K,)

        run_tokens = [cand_tokens[int(i)] for i in pick]
        run_nodes = [first_id + int(i) for i in pick]
        run_scores = (cand_scores + ends.float() * NEG)[pick]  # (K,)

        if bool(ends.all()):
            break
        # stop once K hypotheses are finished and (early_stopping) that is enough, or (the heuristic
        # of transformers) the best running beam, scored at its current length, beats none of them
        best_running = run_scores[0] / (length**lp)
        worst_finished = torch.where(fin_done, fin_scores.min(), torch.full_like(fin_scores, NEG))  # (K,)
        can_improve = bool((best_running > worst_finished).any())
        if not can_improve or (bool(fin_done.all()) and params.early_stopping):
            stop = "eos"
            break
        parents = cand_beam[pick]  # (K,) which old beam each new beam extends
        tokens = cand_token[pick][:, None]  # (K, 1)
        out = model(tokens, past_kv=kv.select(parents))
        kv, logits = out.kv, out.logits[:, -1]  # logits (K, V)

    hypotheses = tuple(h for h, done in zip(fin_hyps, fin_done.tolist()) if done)
    return BeamResult(
        prompt_ids=tuple(prompt), hypotheses=hypotheses, nodes=tuple(nodes), steps=step + 1, stop_reason=stop
    )
