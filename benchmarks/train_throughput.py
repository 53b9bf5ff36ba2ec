"""Training and decoding throughput of the transformer, with baselines measured in the same process.

    .venv/bin/python benchmarks/train_throughput.py [--steps 20] [--inputs 16] [--samples 32]

CPU: training tokens/s of a small model; decoding inputs/s with 32 samples each, KV cache on vs off
(printed as a ratio). GPU (bf16 autocast): the same at the reference sizes (encoder 1600x12, decoder
1024x6, 8 heads) and at 512x6/512x6, plus MFU and Hugging Face BART with the same sizes as the baseline
(BART has one width for both sides: it gets the decoder width, i.e. a smaller encoder than ours).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any

import torch

from hyperprover.model.config import ModelConfig, resolve
from hyperprover.model.decoding import sample
from hyperprover.model.transformer import Seq2SeqTransformer

VOCAB, PAD, EOS = 2000, 2, 1
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40": 181e12, "A10": 125e12}


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def autocast(dev: torch.device) -> contextlib.AbstractContextManager[Any]:
    return torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else contextlib.nullcontext()


def make_batch(b: int, s: int, t: int, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(60, VOCAB, (b, s), generator=g).to(dev)
    y = torch.randint(60, VOCAB, (b, t + 1), generator=g).to(dev)
    return x, y[:, :-1], y[:, 1:]


def train_tokens_per_s(step: Any, params: list[torch.nn.Parameter], tokens: int, steps: int, dev: torch.device,
                       ) -> float:
    opt = torch.optim.AdamW(params, lr=1e-4)
    for i in range(steps + 3):
        if i == 3:  # warm-up steps excluded (allocator, kernels)
            sync(dev)
            t0 = time.perf_counter()
        with autocast(dev):
            loss = step()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync(dev)
    return tokens * steps / (time.perf_counter() - t0)


def ours_train(model: Seq2SeqTransformer, x: torch.Tensor, y_in: torch.Tensor, y_out: torch.Tensor, steps: int,
               dev: torch.device) -> float:
    def step() -> torch.Tensor:
        logits = model(x, y_in)
        return torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), y_out.flatten())

    return train_tokens_per_s(step, list(model.parameters()), x.numel() + y_in.numel(), steps, dev)


@torch.no_grad()
def ours_decode(model: Seq2SeqTransformer, x: torch.Tensor, n_samples: int, max_len: int, use_cache: bool,
                dev: torch.device, reps: int = 2) -> float:
    model.eval()
    with autocast(dev):
        enc, mask = model.encode(x)
        mem = model.decoder.memory(enc)
        sample(model, mem, mask, n_samples=n_samples, max_len=4, eos=EOS)  # warm-up
        sync(dev)
        t0 = time.perf_counter()
        for _ in range(reps):
            enc, mask = model.encode(x)
            # EOS is never produced by this untrained model in practice: every sample runs max_len steps,
            # so cached and uncached runs do identical work
            sample(model, model.decoder.memory(enc), mask, n_samples=n_samples, max_len=max_len, eos=EOS,
                   use_cache=use_cache, generator=torch.Generator(device=dev).manual_seed(0))
        sync(dev)
    model.train()
    return reps * x.size(0) / (time.perf_counter() - t0)


def build(enc: int, dec: int, enc_l: int, dec_l: int, dev: torch.device) -> Seq2SeqTransformer:
    cfg = ModelConfig(enc_emb_dim=enc, dec_emb_dim=dec, enc_n_layers=enc_l, dec_n_layers=dec_l, n_heads=8)
    return Seq2SeqTransformer(resolve(cfg, VOCAB, PAD)).to(dev)


def bart(dim: int, enc_l: int, dec_l: int, dev: torch.device) -> Any:
    from transformers import BartConfig, BartForConditionalGeneration  # GPU machines only

    cfg = BartConfig(vocab_size=VOCAB, d_model=dim, encoder_layers=enc_l, decoder_layers=dec_l,
                     encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=4 * dim,
                     decoder_ffn_dim=4 * dim, max_position_embeddings=1024, pad_token_id=PAD, bos_token_id=0,
                     eos_token_id=EOS, decoder_start_token_id=EOS, forced_eos_token_id=None,
                     attn_implementation="sdpa")
    return BartForConditionalGeneration(cfg).to(dev)


def bart_train(m: Any, x: torch.Tensor, y_in: torch.Tensor, y_out: torch.Tensor, steps: int, dev: torch.device,
               ) -> float:
    def step() -> torch.Tensor:
        return m(input_ids=x, decoder_input_ids=y_in, labels=y_out).loss

    return train_tokens_per_s(step, list(m.parameters()), x.numel() + y_in.numel(), steps, dev)


@torch.no_grad()
def bart_decode(m: Any, x: torch.Tensor, n_samples: int, max_len: int, dev: torch.device, reps: int = 2) -> float:
    m.eval()
    kw = dict(do_sample=True, num_return_sequences=n_samples, max_new_tokens=max_len, min_new_tokens=max_len,
              top_k=0, use_cache=True)
    with autocast(dev):
        m.generate(input_ids=x, **{**kw, "max_new_tokens": 4, "min_new_tokens": 4})
        sync(dev)
        t0 = time.perf_counter()
        for _ in range(reps):
            m.generate(input_ids=x, **kw)
        sync(dev)
    return reps * x.size(0) / (time.perf_counter() - t0)


def mfu(tok_s: float, model: torch.nn.Module, dev: torch.device) -> str:
    name = torch.cuda.get_device_name(dev)
    peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
    n = sum(p.numel() for p in model.parameters())
    # 6 FLOPs per parameter per token (forward + backward); attention scores are small at these lengths
    return f"{100 * 6 * n * tok_s / peak:.1f}%" if peak else "n/a (unknown peak for this card)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--inputs", type=int, default=8, help="inputs decoded per call")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--gen_len", type=int, default=24)
    ap.add_argument("--cpu_threads", type=int, default=0)
    args = ap.parse_args()
    if args.cpu_threads:
        torch.set_num_threads(args.cpu_threads)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    if dev.type == "cpu":
        sizes = [(256, 256, 4, 2, 16, 64, 16)]  # enc, dec, enc layers, dec layers, batch, src len, tgt len
    else:
        print(f"device: {torch.cuda.get_device_name(dev)}, bf16 autocast")
        sizes = [(1600, 1024, 12, 6, 32, 256, 64), (512, 512, 6, 6, 64, 256, 64)]
    for enc, dec, el, dl, b, s, t in sizes:
        label = f"enc {enc}x{el} dec {dec}x{dl}, batch {b}x({s}+{t})"
        model = build(enc, dec, el, dl, dev)
        x, y_in, y_out = make_batch(b, s, t, dev)
        ours = ours_train(model, x, y_in, y_out, args.steps, dev)
        xs = x[: args.inputs]
        cached = ours_decode(model, xs, args.samples, args.gen_len, True, dev)
        uncached = ours_decode(model, xs, args.samples, args.gen_len, False, dev)
        print(f"[{label}] train: {ours:,.0f} tokens/s")
        print(f"[{label}] decode {args.samples} samples x {args.gen_len} tokens: KV cache {cached:.2f} inputs/s, "
              f"no cache {uncached:.2f} inputs/s, ratio cache/no-cache {cached / uncached:.2f}x")
        if dev.type == "cuda":
            print(f"[{label}] MFU (ours, training): {mfu(ours, model, dev)}")
            del model
            torch.cuda.empty_cache()
            hf = bart(dec, el, dl, dev)
            hf_train = bart_train(hf, x, y_in, y_out, args.steps, dev)
            hf_dec = bart_decode(hf, xs, args.samples, args.gen_len, dev)
            print(f"[{label}] HF BART d_model {dec}: train {hf_train:,.0f} tokens/s, decode {hf_dec:.2f} inputs/s")
            print(f"[{label}] ratio ours/BART: train {ours / hf_train:.2f}x, sampling {cached / hf_dec:.2f}x")
            del hf
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
