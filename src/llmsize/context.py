"""How long a context a model was built for, and the check every command makes before sizing one.

A learned position table (GPT-2, OPT, BLOOM-style absolute embeddings) has exactly
max_position_embeddings rows: a longer sequence cannot run at all. Rotary and ALiBi models run past
their trained length but degrade; a config's `rope_scaling` (YaRN, dynamic NTK, LongRoPE, llama3)
says how far its authors extended it. Past the trained length is an error naming the limit unless
the user says --allow-long-context; past a learned table is always an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmsize.errors import LlmsizeError


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextLimit:
    tokens: int  # the trained (or table) length; a config's rope_scaling extends it
    hard: bool  # a learned position table: nothing past it can run
    scaling: str = ""  # where rope_scaling sets the limit: e.g. "yarn x4 from 32,768"

    def describe(self) -> str:
        if self.hard:
            return f"{self.tokens:,} positions (learned position table)"
        how = f"rope_scaling {self.scaling}" if self.scaling else "max_position_embeddings"
        return f"{self.tokens:,} tokens ({how})"


def context_limit(spec: Any, config: dict[str, Any] | None = None) -> ContextLimit:
    """The limit of `spec`: max_position_embeddings, or what the config's rope_scaling reaches when more
    (factor x original_max_position_embeddings); a learned table's size is never extended.

    Source: hf-rope-scaling"""
    hard = spec.position == "learned"
    limit = spec.max_position_embeddings
    rs = (config or {}).get("rope_scaling") or (config or {}).get("rope_parameters")
    scaling = ""
    if isinstance(rs, dict):
        kind = str(rs.get("rope_type", rs.get("type", "")))
        factor, orig = rs.get("factor"), rs.get("original_max_position_embeddings")
        # ASSUMES: a scaling without original_max_position_embeddings (linear, dynamic) already counts in
        #          max_position_embeddings (Gemma 3: linear x8 with 131,072): it extends nothing further.
        if isinstance(factor, (int, float)) and not isinstance(factor, bool) and 1 < factor <= 1024 and \
                isinstance(orig, int) and not isinstance(orig, bool) and orig > 0 and kind != "default":
            base = orig
            reach = int(base * factor)
            if reach > limit and not hard:
                limit, scaling = reach, f"{kind} x{factor:g} from {base:,}"
    return ContextLimit(tokens=limit, hard=hard, scaling=scaling)


def trained_tokens(loaded: Any) -> int | None:
    """The context `loaded` is trained to (`context_limit`), the most `fit` searches a longest context to;
    None for a knob-built model, which has no checkpoint trained to any length."""
    return None if loaded.origin == "knobs" else context_limit(loaded.spec, loaded.config).tokens


def check_context(loaded: Any, tokens: int, *, allow_long: bool = False, what: str = "context",
                  flag: str = "--allow-long-context") -> str | None:
    """Refuse `tokens` positions past the model's limit (LlmsizeError naming it); with `allow_long`, a
    rotary/ALiBi model may go past it and the returned note says so. Knob-built rotary models have no
    trained length to check."""
    spec = loaded.spec
    lim = context_limit(spec, loaded.config)
    if loaded.origin == "knobs" and not lim.hard:
        return None
    if tokens <= lim.tokens:
        return None
    if lim.hard:
        raise LlmsizeError(f"{what}: {tokens:,} positions exceed {spec.name}'s learned position table of "
                           f"{lim.tokens:,}; no longer sequence can run")
    if not allow_long:
        raise LlmsizeError(f"{what}: {tokens:,} positions exceed {spec.name}'s trained context of "
                           f"{lim.describe()}; pass {flag} to size it anyway")
    return (f"{what}: {tokens:,} positions, past {spec.name}'s trained context of {lim.tokens:,} "
            f"({flag}): sized as asked; quality past the trained length is not implied")


def default_tokens(loaded: Any, usual: int, after: int) -> tuple[int, str | None]:
    """`usual` tokens, or fewer where the model's context cannot hold them plus `after` more positions,
    with a note saying why (None when `usual` stands)."""
    lim = context_limit(loaded.spec, loaded.config)
    if loaded.origin == "knobs" and not lim.hard or usual + after <= lim.tokens or lim.tokens <= after:
        return usual, None
    n = lim.tokens - after
    return n, f"{n:,} ({loaded.spec.name}'s {lim.describe()}" + (f" less {after:,}" if after else "") + ")"


def positions_what(spec: Any, seq_name: str, seq: int, new: int, new_name: str = "new tokens") -> str:
    """The inputs `positions` counts, as a message names them, so its sum reads right: the prompt and the
    new tokens less the last one (never fed back), or an encoder-decoder's two stacks."""
    if not new:
        return f"{seq_name} {seq:,}"
    if spec.traits.encoder_decoder:
        return f"{seq_name} {seq:,} (encoder) and {new:,} {new_name} (decoder)"
    return f"{seq_name} {seq:,} + {new:,} {new_name} − 1 (the last is not fed back)"


def positions(spec: Any, seq: int, new: int) -> int:
    """Positions one stack sees in a generation: the prompt, then each generated token but the last fed
    back (prompt + new - 1); an encoder-decoder (T5) reads the prompt in the encoder and generates in the
    decoder, so its longest stack sees max(prompt, new) positions."""
    if spec.traits.encoder_decoder:
        return max(seq, new)
    return seq + max(new - 1, 0)
