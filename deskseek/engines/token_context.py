"""The llama context's KV cache, kept as the list of tokens it holds (`_cached`): decode, check a draft, forget.

Every path that puts tokens into the cache or takes them out goes through these few methods, so `_cached` is the
cache, token for token, whatever happened: a cancel in the middle of a prompt batch (llama.cpp's abort callback),
a full context, a draft whose rest was not taken (speculative.py), a new prompt that shares a prefix with the
last. Engine (local.py) and a draft model's engine both are one.
"""

from __future__ import annotations

from deskseek.engines import speculative
from deskseek.errors import DeskseekError


class TokenContext:
    """Mixed into Engine: it sets `_llama`, `_ctx`, `_cached`, `_one`, `_cancel`, `n_batch`, the abort callbacks,
    `aborted_decodes` and `_verify_batch`."""

    def _reuse_prefix(self, tokens: list[int]) -> int:
        """Keep the KV cache's common prefix with this prompt; at least one token must still be decoded."""
        keep = 0
        limit = min(len(self._cached), len(tokens) - 1)
        while keep < limit and self._cached[keep] == tokens[keep]:
            keep += 1
        memory = self._llama.llama_get_memory(self._ctx)
        if not self._llama.llama_memory_seq_rm(memory, 0, keep, -1):
            self._llama.llama_memory_clear(memory, True)
            keep = 0
        del self._cached[keep:]
        return keep

    def _should_abort(self) -> bool:
        """llama.cpp's abort callback, asked between the nodes of the graph a prompt batch computes."""
        return self._cancel.is_set()

    def _decode(self, tokens: list[int]) -> bool:
        """Feed tokens to the model in n_batch chunks; False when cancelled through the abort callback."""
        llama = self._llama
        llama.llama_set_abort_callback(self._ctx, self._abort_cb, None)
        try:
            return self._decode_batches(tokens)
        finally:
            llama.llama_set_abort_callback(self._ctx, self._no_abort_cb, None)

    def _decode_batches(self, tokens: list[int]) -> bool:
        llama = self._llama
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start : start + self.n_batch]
            array = (llama.llama_token * len(chunk))(*chunk)
            status = llama.llama_decode(self._ctx, llama.llama_batch_get_one(array, len(chunk)))
            if status == 2:
                self.aborted_decodes += 1  # llama.cpp stopped mid-batch through the abort callback
            if status == 2 or self._cancel.is_set():
                self._forget_from(len(self._cached))
                return False
            if status != 0:
                self._forget_from(len(self._cached))
                raise DeskseekError(f"llama.cpp could not decode (status {status}); the context may be full")
            self._cached.extend(chunk)
        return True

    def _decode_one(self, token: int) -> int:
        self._one[0] = token
        status = self._llama.llama_decode(self._ctx, self._llama.llama_batch_get_one(self._one, 1))
        if status == 0:
            self._cached.append(token)
        return status

    def _decode_checked(self, tokens: list[int]) -> int:
        """Decode tokens after the cached ones with logits at every position (speculative.py checks a draft with
        them); llama_decode's status. Which of them join `_cached` is the caller's to say."""
        if self._verify_batch is None:
            self._verify_batch = speculative.VerifyBatch(self._llama, speculative.BATCH)
        return self._llama.llama_decode(self._ctx, self._verify_batch.fill(tokens, len(self._cached)))

    def _forget_from(self, position: int) -> None:
        """After an aborted decode the cache holds an unknown tail: drop everything past `position`."""
        memory = self._llama.llama_get_memory(self._ctx)
        if not self._llama.llama_memory_seq_rm(memory, 0, position, -1):
            self._llama.llama_memory_clear(memory, True)
            position = 0
        del self._cached[position:]
