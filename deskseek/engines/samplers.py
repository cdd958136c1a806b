"""The sampler chain of one reply: llama.cpp's own samplers, built from the reply's Settings.

The order is llama.cpp's: what constrains the vocabulary (a grammar, the end-of-generation ban, the thought
guard) first, then the repeat penalty, which reshapes the logits every later step reads, then the cuts
(top-k, top-p, min-p), the temperature and the draw. Temperature 0 is greedy: the likeliest token after the
penalty, no draw.
"""

from __future__ import annotations

from deskseek.engines.events import Settings
from deskseek.errors import DeskseekError

REPEAT_LAST_N = 64  # llama.cpp's default window for --repeat-penalty
RANDOM_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a fresh seed per chain


def chain(llama, vocab, settings: Settings, guard=None):
    """A new chain (the caller frees it with llama_sampler_free); DeskseekError for a grammar that does not parse.

    `guard`: the thought guard's sampler (think_lang.py), which the chain then owns; it goes right after the
    vocabulary constraints and before anything that reorders the candidates, as it expects.
    """
    chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
    if settings.grammar:
        grammar = llama.llama_sampler_init_grammar(vocab, settings.grammar.encode(), b"root")
        if not grammar:
            llama.llama_sampler_free(chain)
            raise DeskseekError("the grammar could not be parsed")
        llama.llama_sampler_chain_add(chain, grammar)
    if settings.ignore_eos:
        llama.llama_sampler_chain_add(chain, _eog_ban(llama, vocab))
    if guard is not None:
        llama.llama_sampler_chain_add(chain, guard)
    if settings.repeat_penalty != 1.0:
        n_vocab = llama.llama_vocab_n_tokens(vocab)
        llama.llama_sampler_chain_add(
            chain, llama.llama_sampler_init_penalties(n_vocab, REPEAT_LAST_N, settings.repeat_penalty, 0.0, 0.0))
    if settings.temperature <= 0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_greedy())
        return chain
    if settings.top_k > 0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_k(settings.top_k))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_p(settings.top_p, 1))
    if settings.min_p > 0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_min_p(settings.min_p, 1))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_temp(settings.temperature))
    seed = settings.seed if settings.seed is not None else RANDOM_SEED
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_dist(seed))
    return chain


def _eog_ban(llama, vocab):
    """A logit-bias sampler that makes every end-of-generation token impossible, as llama.cpp's ignore_eos."""
    n_vocab = llama.llama_vocab_n_tokens(vocab)
    eog = [t for t in range(n_vocab) if llama.llama_vocab_is_eog(vocab, t)]
    biases = (llama.llama_logit_bias * len(eog))(*[llama.llama_logit_bias(t, float("-inf")) for t in eog])
    return llama.llama_sampler_init_logit_bias(n_vocab, len(eog), biases)
