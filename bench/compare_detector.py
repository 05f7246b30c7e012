#!/usr/bin/env python3
"""The detector's speed, ours against transformers' Sam3Model, in one run.

    .venv/bin/python bench/compare_detector.py [--preset tiny|full] [--precision fp32|bf16|autocast-bf16]
        [--threads N] [--iterations K] [--build DIR] [--model DIR] [--profile]

Both sides get the same seeded weights (a folder from sam3-make-test-model, or --model), the
same 1280x720 frame and prompt, the same thread count, and the same prompt composition (the
official one: a text prompt also runs the geometry encoder's CLS token; transformers takes that
path when given one padding box). transformers runs eagerly with its default attention (SDPA).
Ours is build/bench/bench_detector --model DIR --csv, run by this script after transformers.

Prints, per stage, the median ms of each side, transformers / ours (> 1: ours is faster), the
stage's GFLOP (counted on the transformers side with torch.utils.flop_counter) and the GFLOP/s
each side reaches, with the fraction of the machine's peak (threads x clock x FLOP per cycle,
as bench_matmul states it).

--profile adds a second table: one frame of each side (vision encoder, text encoder and heads
with a text prompt, the frame's pixels already pre-processed) under the PyTorch profiler,
per operator the self time (time not spent in a nested operator) and call count, so a gap in
the ViT can be read operator by operator.
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_reference  # noqa: E402  (the same model loading and stage composition as parity)
from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor  # noqa: E402

STAGES = ["preprocess (1280x720)", "vision encoder (ViT + neck)", "text encoder (1 prompt)",
          "detector heads, text", "detector heads, text + 1 box", "total, text"]


def cpu_peak_gflops(threads, dtype):
    flags, ghz = set(), 0.0
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "flags" and not flags:
                flags = set(value.split())
            elif key == "cpu MHz" and not ghz:
                ghz = float(value) / 1000
    avx512 = "avx512f" in flags
    if dtype == torch.bfloat16:
        per_cycle = 1024 if "amx_bf16" in flags else (128 if "avx512_bf16" in flags else
                                                       (64 if avx512 else 32))
    else:
        per_cycle = 64 if avx512 else 32
    return threads * ghz * per_cycle


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=["tiny", "full"], default="tiny")
    p.add_argument("--model", help="model folder (default: generated for --preset, seed 0)")
    p.add_argument("--precision", choices=["fp32", "bf16", "autocast-bf16"], default="fp32",
                   help="autocast-bf16: fp32 weights under bf16 autocast on both sides")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--profile", action="store_true",
                   help="also print per-operator self times of one frame")
    p.add_argument("--profile-rows", type=int, default=20)
    return p.parse_args()


def timed(fn, iterations, warmup):
    times = []
    for i in range(warmup + iterations):
        t0 = time.perf_counter()
        out = fn()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return out, times


def gflop(fn):
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def operator_self_times(trace_path):
    """{operator: [self ms, calls]} of a Chrome trace's CPU operators (nesting per thread)."""
    with open(trace_path) as f:
        events = json.load(f)["traceEvents"]
    ops = [e for e in events if e.get("ph") == "X" and e.get("cat") == "cpu_op"]
    out = collections.defaultdict(lambda: [0.0, 0])
    by_thread = collections.defaultdict(list)
    for e in ops:
        by_thread[(e.get("pid"), e.get("tid"))].append(e)
    for events_of_thread in by_thread.values():
        events_of_thread.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [end, event, child time]
        for e in events_of_thread + [None]:
            while stack and (e is None or e["ts"] >= stack[-1][0]):
                end, done, children = stack.pop()
                out[done["name"]][0] += (done["dur"] - children) / 1000
                out[done["name"]][1] += 1
                if stack:
                    stack[-1][2] += done["dur"]
            if e is not None:
                stack.append([e["ts"] + e["dur"], e, 0.0])
    return out


def print_profiles(ours, theirs, rows):
    total_ours = sum(v[0] for v in ours.values())
    total_theirs = sum(v[0] for v in theirs.values())
    print()
    print(f"One frame with a text prompt (vision encoder, text encoder, heads), self time per "
          f"operator (ours {total_ours:.0f} ms, transformers {total_theirs:.0f} ms in operators)")
    print()
    print("| operator | ours ms | calls | transformers ms | calls | ours - transformers ms |")
    print("|---|---|---|---|---|---|")
    names = sorted(set(ours) | set(theirs),
                   key=lambda n: -max(ours.get(n, [0])[0], theirs.get(n, [0])[0]))
    for name in names[:rows]:
        mine, ref = ours.get(name, [0.0, 0]), theirs.get(name, [0.0, 0])
        print(f"| {name} | {mine[0]:.1f} | {mine[1]} | {ref[0]:.1f} | {ref[1]} | "
              f"{mine[0] - ref[0]:+.1f} |")


@torch.no_grad()
def transformers_side(model_dir, dtype, iterations, warmup, trace_path=None, autocast=False):
    """With autocast, each stage runs in an autocast region of its own, as each of our runs does:
    autocast caches the weights' bf16 copies only until its region ends."""
    model = make_reference.load_model(model_dir, dtype, torch.device("cpu"), "sdpa", "official")

    def region(fn):
        def run():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                return fn()
        return run

    size = model.config.vision_config.backbone_config.image_size
    processor = Sam3ImageProcessor(size={"height": size, "width": size})
    frame = torch.randint(0, 256, (3, 720, 1280), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    tokenizer_ids, tokenizer_mask = make_reference.tokenize(model_dir)
    ids, mask = tokenizer_ids[:1], tokenizer_mask[:1]
    boxes = torch.tensor([[[0.5, 0.5, 0.2, 0.3]]])
    labels = torch.ones(1, 1, dtype=torch.int64)

    def preprocess():
        return processor(images=frame, return_tensors="pt")["pixel_values"].to(dtype)

    def heads(vision, text, with_box):
        fpn = list(vision.fpn_hidden_states[:-1])
        pos = list(vision.fpn_position_encoding[:-1])
        text_mask = mask.bool()
        if with_box:
            label, box_mask = make_reference.box_prompt(labels)
            geometry = model.geometry_encoder(box_embeddings=boxes.to(dtype), box_mask=box_mask,
                                              box_labels=label, img_feats=fpn, img_pos_embeds=pos)
            prompt = torch.cat([text, geometry.last_hidden_state], 1)
            prompt_mask = torch.cat([text_mask, geometry.attention_mask], 1)
        else:
            prompt, prompt_mask, _ = make_reference.text_prompt(model, text, text_mask, fpn, pos,
                                                                "official")
        return make_reference.run_heads(model, fpn, pos, prompt, prompt_mask)

    stats, flops = {}, {}
    pixels, stats[STAGES[0]] = timed(preprocess, iterations, warmup)
    vision, stats[STAGES[1]] = timed(region(lambda: model.vision_encoder(pixels)), iterations,
                                     warmup)
    text, stats[STAGES[2]] = timed(
        region(lambda: make_reference.text_embeddings(model, ids, mask)), iterations, warmup)
    _, stats[STAGES[3]] = timed(region(lambda: heads(vision, text, False)), iterations, warmup)
    _, stats[STAGES[4]] = timed(region(lambda: heads(vision, text, True)), iterations, warmup)
    flops[STAGES[1]] = gflop(region(lambda: model.vision_encoder(pixels)))
    flops[STAGES[2]] = gflop(region(lambda: make_reference.text_embeddings(model, ids, mask)))
    flops[STAGES[3]] = gflop(region(lambda: heads(vision, text, False)))
    flops[STAGES[4]] = gflop(region(lambda: heads(vision, text, True)))
    flops[STAGES[5]] = flops[STAGES[1]] + flops[STAGES[2]] + flops[STAGES[3]]
    if trace_path:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            region(lambda: heads(model.vision_encoder(pixels),
                                 make_reference.text_embeddings(model, ids, mask), False))()
        prof.export_chrome_trace(trace_path)
    medians = {k: statistics.median(v) for k, v in stats.items()}
    medians[STAGES[5]] = sum(medians[s] for s in STAGES[:4])
    return medians, flops


def ours_side(build, model_dir, precision, threads, iterations, warmup, trace_path=None):
    env = dict(os.environ, SAM3_THREADS=str(threads))
    extra = ["--profile", trace_path] if trace_path else []
    out = subprocess.run([os.path.join(build, "bench", "bench_detector"), "--model", model_dir,
                          "--precision", precision, "--iterations", str(iterations),
                          "--warmup", str(warmup), "--csv"] + extra,
                         env=env, check=True, capture_output=True, text=True).stdout
    medians = {}
    for line in out.splitlines():
        name, median, _ = line.rsplit(",", 2)
        medians[name] = float(median)
    return medians


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    autocast = args.precision == "autocast-bf16"
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    if autocast:
        make_reference.fp32_roi_align()
    with tempfile.TemporaryDirectory(prefix="sam3-compare-") as tmp:
        model_dir = args.model
        if not model_dir:
            model_dir = os.path.join(tmp, args.preset)
            subprocess.run([os.path.join(args.build, "tools", "sam3-make-test-model"), "--preset",
                            args.preset, "--seed", "0", model_dir], check=True,
                           stdout=subprocess.DEVNULL)
        our_trace, their_trace = (os.path.join(tmp, f"{side}.json") if args.profile else None
                                  for side in ("ours", "transformers"))
        theirs, flops = transformers_side(model_dir, dtype, args.iterations, args.warmup,
                                          their_trace, autocast)
        ours = ours_side(args.build, model_dir, args.precision, args.threads, args.iterations,
                         args.warmup, our_trace)
        if args.profile:
            profiles = operator_self_times(our_trace), operator_self_times(their_trace)

    peak = cpu_peak_gflops(args.threads, torch.float32 if args.precision == "fp32" else
                           torch.bfloat16)
    print(f"SAM 3 detector, {args.model or 'preset ' + args.preset}, cpu, {args.precision}, "
          f"{args.threads} threads, median of {args.iterations}; torch {torch.__version__}; "
          f"peak {peak:.0f} GFLOP/s")
    print()
    print("| stage | ours ms | transformers ms | transformers / ours | GFLOP | ours GFLOP/s "
          "(of peak) | transformers GFLOP/s (of peak) |")
    print("|---|---|---|---|---|---|---|")
    for stage in STAGES:
        mine, ref = ours[stage], theirs[stage]
        work = flops.get(stage)
        if work:
            rates = [work / (t / 1000) for t in (mine, ref)]
            rate_text = [f"{r:.1f} ({100 * r / peak:.0f}%)" for r in rates]
            work_text = f"{work:.2f}"
        else:
            rate_text, work_text = ["-", "-"], "-"
        print(f"| {stage} | {mine:.2f} | {ref:.2f} | {ref / mine:.2f}x | {work_text} | "
              f"{rate_text[0]} | {rate_text[1]} |")
    if args.profile:
        print_profiles(*profiles, args.profile_rows)


if __name__ == "__main__":
    main()
