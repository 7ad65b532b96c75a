"""The Llama-layout GPT: names, shapes, causality, RoPE, GQA, loss masking, generation."""
import math

import pytest
import torch

from training.config import ModelConfig, load_config
from training.model import GPT, apply_rope, rope_cache


def tiny(**over) -> ModelConfig:
    cfg = load_config("polski-tiny").model
    return cfg.model_copy(update=over)


def model(**over) -> GPT:
    torch.manual_seed(0)
    return GPT(tiny(**over))


def test_parameter_names_match_the_contract_tied():
    names = set(model().state_dict())
    assert "output.weight" not in names
    assert {"tok_embeddings.weight", "norm.weight", "layers.0.attention_norm.weight", "layers.0.attention.wq.weight",
            "layers.0.attention.wk.weight", "layers.0.attention.wv.weight", "layers.0.attention.wo.weight",
            "layers.0.ffn_norm.weight", "layers.0.feed_forward.w1.weight", "layers.0.feed_forward.w2.weight",
            "layers.0.feed_forward.w3.weight"} <= names
    assert not any(n.endswith("bias") for n in names)
    assert not any("rope" in n for n in names)  # rotary tables are derived, not saved


def test_untied_gqa_shapes():
    m = model(tie_embeddings=False, n_kv_heads=2)
    sd = m.state_dict()
    assert sd["output.weight"].shape == (512, 128)
    assert sd["layers.0.attention.wk.weight"].shape == (2 * 32, 128)
    assert sd["layers.0.feed_forward.w1.weight"].shape == (384, 128)
    assert sd["layers.0.feed_forward.w2.weight"].shape == (128, 384)


def test_initial_loss_is_near_uniform_and_finite():
    m = model()
    idx = torch.randint(0, 512, (2, 64))
    logits, loss = m(idx, torch.randint(0, 512, (2, 64)))
    assert logits.shape == (2, 64, 512)
    assert abs(loss.item() - math.log(512)) < 0.3


def test_future_tokens_do_not_change_past_logits():
    m = model().eval()
    a = torch.randint(0, 512, (1, 32))
    b = a.clone()
    b[0, 20:] = (b[0, 20:] + 7) % 512
    la, _ = m(a)
    lb, _ = m(b)
    assert torch.allclose(la[0, :20], lb[0, :20], atol=1e-5)
    assert not torch.allclose(la[0, 20:], lb[0, 20:], atol=1e-3)


def test_document_attention_reads_a_packed_document_as_if_it_were_alone():
    """Two documents packed in one window (BOS = 1 opens each): with document attention the second one's logits
    equal its logits alone at position 0 (RoPE is relative); with plain causal attention they do not. Recomputed
    blocks get the same mask."""
    torch.manual_seed(1)
    first, second = torch.randint(6, 512, (1, 20)), torch.randint(6, 512, (1, 12))
    bos = torch.ones(1, 1, dtype=torch.long)
    packed = torch.cat([first, bos, second], dim=1)
    alone = torch.cat([bos, second], dim=1)
    m = model(dropout=0.0).eval()
    causal, _ = m(packed)
    m.document_start_id = 1
    masked, _ = m(packed)
    by_itself, _ = m(alone)
    assert torch.allclose(masked[0, 20:], by_itself[0], atol=1e-4)
    assert not torch.allclose(causal[0, 20:], by_itself[0], atol=1e-2)
    assert torch.allclose(masked[0, :20], causal[0, :20], atol=1e-5)  # before the second BOS nothing changes
    m.train()
    m.set_activation_checkpointing("full")
    recomputed, _ = m(packed)
    assert torch.allclose(recomputed[0, 20:], by_itself[0], atol=1e-4)


def test_rope_rotate_half_depends_only_on_relative_position():
    cos, sin = rope_cache(8, 64, 10000.0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def dot(i, j):
        return (apply_rope(q, cos[i : i + 1], sin[i : i + 1]) * apply_rope(k, cos[j : j + 1], sin[j : j + 1])).sum()

    assert torch.allclose(dot(5, 2), dot(40, 37), atol=1e-5)
    # rotate-half pairs dim 0 with dim D/2: a vector in dim 0 rotates into dim 4 only
    e0 = torch.zeros(1, 1, 1, 8)
    e0[..., 0] = 1
    r = apply_rope(e0, cos[3:4], sin[3:4])
    assert r[..., [1, 2, 3, 5, 6, 7]].abs().max() == 0 and r[..., 4].abs() > 0


def test_gqa_equals_full_attention_with_repeated_kv_heads():
    g = model(n_kv_heads=2).eval()
    full = model(n_kv_heads=None).eval()
    sd = g.state_dict()
    for i in range(4):
        for w in ("wk", "wv"):
            t = sd[f"layers.{i}.attention.{w}.weight"].view(2, 32, 128)
            sd[f"layers.{i}.attention.{w}.weight"] = t.repeat_interleave(2, dim=0).reshape(128, 128)
    full.load_state_dict(sd)
    idx = torch.randint(0, 512, (1, 16))
    assert torch.allclose(g(idx)[0], full(idx)[0], atol=1e-5)


def test_masked_targets_do_not_count():
    m = model()
    idx = torch.randint(0, 512, (1, 16))
    y = idx.clone()
    y[0, :8] = -1
    logits, loss = m(idx, y)
    manual = torch.nn.functional.cross_entropy(logits[0, 8:], y[0, 8:])
    assert torch.allclose(loss, manual, atol=1e-6)


def test_chunked_loss_matches_full_loss_and_gradients():
    m = model()
    idx = torch.randint(0, 512, (2, 32))
    y = idx.roll(-1, 1)
    y[0, :5] = -1
    _, full = m(idx, y)
    full.backward()
    g_full = m.tok_embeddings.weight.grad.clone()
    m.zero_grad()
    m.loss_chunk_tokens = 24  # does not divide 64: last chunk is short
    logits, chunked = m(idx, y)
    chunked.backward()
    assert logits is None
    assert torch.allclose(full, chunked, atol=1e-5)
    assert torch.allclose(g_full, m.tok_embeddings.weight.grad, atol=1e-6)


def test_target_weights_weigh_the_training_loss_only_and_the_chunked_loss_agrees():
    import torch.nn.functional as F

    m = model()
    idx = torch.randint(0, 512, (2, 32))
    y = idx.roll(-1, 1)
    y[0, :5] = -1
    y[1, 7] = y[1, 20] = 3  # the weighted id appears twice among the targets
    m.target_weight = torch.ones(512)
    m.target_weight[3] = 2.0
    logits, weighted = m(idx, y)
    per_token = F.cross_entropy(logits.float().view(-1, 512), y.view(-1), ignore_index=-1, reduction="none")
    counted = y.view(-1) != -1
    w = torch.where(y.view(-1) == 3, 2.0, 1.0)[counted]
    assert torch.allclose(weighted, (per_token[counted] * w).sum() / w.sum(), atol=1e-5)
    assert not torch.allclose(weighted, per_token[counted].mean(), atol=1e-5)
    m.loss_chunk_tokens = 24
    assert torch.allclose(m(idx, y)[1], weighted, atol=1e-5)
    m.eval()  # evaluation (validation loss, BPB) is never weighted
    assert torch.allclose(m(idx, y)[1], per_token[counted].mean(), atol=1e-5)


@pytest.mark.parametrize("mode", ["full", "selective"])
def test_activation_checkpointing_gives_the_same_gradients(mode):
    idx = torch.randint(0, 512, (2, 32))
    grads = []
    for m_mode in ("none", mode):
        m = model()
        m.set_activation_checkpointing(m_mode)
        m(idx, idx.roll(-1, 1))[1].backward()
        grads.append(m.layers[1].feed_forward.w1.weight.grad)
    assert torch.allclose(*grads, atol=1e-6)


@pytest.mark.slow
def test_full_recomputation_in_a_compiled_block_saves_only_its_input():
    """With full checkpointing the block's forward keeps only its input for backward (the recomputation is in the
    compiled backward graph); without it, the compiled block keeps several activations of the SwiGLU width."""
    x = torch.randn(2, 32, 128, requires_grad=True)
    saved = {}
    for mode in ("none", "full"):
        m = model()
        m.set_activation_checkpointing(mode)
        block = m.layers[0]
        block.compile()
        cos, sin = m.rope_cos[:32], m.rope_sin[:32]
        sizes = []
        weights = {p.data_ptr() for p in block.parameters()}

        def pack(t):  # weights are saved by reference: they cost no memory
            if t.data_ptr() not in weights:
                sizes.append(t.numel() * t.element_size())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = block(x, cos, sin)
        out.sum().backward()  # the recomputation runs and gives a gradient
        assert x.grad is not None and torch.isfinite(x.grad).all()
        saved[mode] = sum(sizes)
        x.grad = None
    input_bytes = x.numel() * x.element_size()
    assert saved["full"] <= input_bytes + 2 * m.rope_cos[:32].numel() * 4 + 1024
    assert saved["none"] > 4 * input_bytes


def test_flops_per_token_formula():
    m = model(tie_embeddings=False)
    n = m.num_params() - 512 * 128
    assert m.flops_per_token() == 6 * n + 12 * 4 * 128 * 128
    t = model()
    assert t.flops_per_token(64) == 6 * t.num_params() + 12 * 4 * 128 * 64


def test_generate_is_reproducible_with_a_seed_and_greedy_is_deterministic():
    m = model()
    prompt = torch.tensor([[1, 5, 9]])
    a = m.generate(prompt, 10, temperature=1.0, top_k=50, top_p=0.9, seed=3)
    b = m.generate(prompt, 10, temperature=1.0, top_k=50, top_p=0.9, seed=3)
    assert a.shape == (1, 13) and torch.equal(a, b)
    assert torch.equal(a[:, :3], prompt)
    g1, g2 = m.generate(prompt, 5, temperature=0), m.generate(prompt, 5, temperature=0)
    assert torch.equal(g1, g2)


def test_generate_stops_at_a_stop_id():
    m = model()
    prompt = torch.tensor([[1, 5, 9]])
    first = m.generate(prompt, 1, temperature=0)[0, -1].item()
    out = m.generate(prompt, 20, temperature=0, stop_ids={first})
    assert out.shape == (1, 4) and out[0, -1].item() == first


def test_top_k_one_is_greedy():
    m = model()
    prompt = torch.tensor([[1, 5, 9]])
    assert torch.equal(m.generate(prompt, 6, temperature=1.0, top_k=1, seed=1), m.generate(prompt, 6, temperature=0))


def test_too_long_input_is_refused():
    with pytest.raises(ValueError, match="context_length"):
        model()(torch.zeros(1, 129, dtype=torch.long))
