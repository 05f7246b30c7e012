#!/usr/bin/env python3
"""Reference of SAM 3's video loop from transformers, for tests/unit/test_video_parity.cpp.

Runs transformers' Sam3VideoModel (detector + tracker + association, its
propagate_in_video_iterator: hot-start removal on, frames released once hotstart_delay are
buffered) over a seeded clip with one text prompt, on a sam3_video model folder whose
config.json sets the loop's thresholds. Frames are handed over as normalised pixels, so both
sides start from the same tensor.

Saved:
  input_ids, attention_mask       the prompt, tokenised by the folder's CLIP tokenizer
  f{f}.pixel_values               the frame (the input)
  f{f}.det.scores / .masks        detections kept by the detector (probability above
                                  score_threshold_detection after mask NMS), mask logits (D, S, S)
  f{f}.trk.ids / .masks / .scores objects the tracker propagated onto the frame, before the
                                  loop's rules: ids, hole-filled low-resolution logits, object-score logits
  f{f}.out.ids                    objects the frame shows once released (transformers'
                                  postprocess: non-empty, not suppressed, not removed by hot-start)
  f{f}.out.masks                  (N, S, S) their low-resolution logits, before the final
                                  non-overlap (which transformers applies at video size)
  f{f}.out.scores                 their reported scores (obj_id_to_score)
  f{f}.out.tracker_scores         their tracker probabilities (non-overlap priority), on frames
                                  without births or removals (see released())
"""

import argparse
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import CLIPTokenizer
from transformers.models.sam3_video.modeling_sam3_video import Sam3VideoInferenceSession

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tracker_reference import load_model, make_clip  # noqa: E402

PROMPT = "a cat"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="sam3_video model folder")
    p.add_argument("--out", required=True)
    p.add_argument("--frames", type=int, default=16)
    return p.parse_args()


def tokenize(model_dir):
    tokenizer = CLIPTokenizer(vocab=os.path.join(model_dir, "vocab.json"),
                              merges=os.path.join(model_dir, "merges.txt"))
    batch = tokenizer([PROMPT], padding="max_length", max_length=32, truncation=True,
                      return_tensors="pt")
    return batch["input_ids"].to(torch.int64), batch["attention_mask"].to(torch.int64)


class Taps:
    """Keeps what the loop's stages hand on, per frame, by wrapping the model's methods."""

    def __init__(self, model):
        self.frame = None
        self.saved = {}
        one_frame = model._det_track_one_frame
        run_detection = model._merge_detections_from_prompts
        propagate = model.run_tracker_propagation

        def frame(inference_session, frame_idx, reverse, streaming=False):
            self.frame = frame_idx
            return one_frame(inference_session=inference_session, frame_idx=frame_idx,
                             reverse=reverse, streaming=streaming)

        def merged(*args, **kwargs):
            det_out, det_to_prompt = run_detection(*args, **kwargs)
            self.saved[f"f{self.frame}.det.scores"] = det_out["scores"].clone()
            self.saved[f"f{self.frame}.det.masks"] = det_out["mask"].clone()
            return det_out, det_to_prompt

        def propagated(inference_session, frame_idx, reverse):
            masks, scores = propagate(inference_session=inference_session, frame_idx=frame_idx,
                                      reverse=reverse)
            self.saved[f"f{frame_idx}.trk.ids"] = torch.tensor(inference_session.obj_ids,
                                                               dtype=torch.int64)
            self.saved[f"f{frame_idx}.trk.masks"] = masks.clone()
            self.saved[f"f{frame_idx}.trk.scores"] = scores.clone()
            return masks, scores

        planning = model.run_tracker_update_planning_phase
        self.changed = set()  # frames with births or removals

        def planned(**kwargs):
            plan, metadata = planning(**kwargs)
            if plan["new_det_obj_ids"] or plan["obj_ids_newly_removed"]:
                self.changed.add(kwargs["frame_idx"])
            return plan, metadata

        model.run_tracker_update_planning_phase = planned
        model._det_track_one_frame = frame
        model._merge_detections_from_prompts = merged
        model.run_tracker_propagation = propagated


def released(session, out, size, changed):
    """The objects a released frame shows, as transformers' postprocess_outputs keeps them
    (empty masks, suppressed and hot-start-removed objects left out), before its non-overlap."""
    hidden = set(out.suppressed_obj_ids or ()) | set(session.hotstart_removed_obj_ids)
    ids, masks, scores, tracker_scores = [], [], [], []
    for obj_id in sorted(out.obj_id_to_mask):
        mask = out.obj_id_to_mask[obj_id].reshape(size, size)
        if obj_id in hidden or not bool((mask > 0).any()):
            continue
        ids.append(obj_id)
        masks.append(mask)
        scores.append(float(out.obj_id_to_score[obj_id]))
        tracker_scores.append(float(out.obj_id_to_tracker_score.get(obj_id, 0.0)))
    result = {
        "ids": torch.tensor(ids, dtype=torch.int64),
        "masks": torch.stack(masks) if masks else torch.zeros(0, size, size),
        "scores": torch.tensor(scores, dtype=torch.float32),
    }
    # transformers pairs the frame's tracker scores with its object list after the frame's
    # births and removals (a zip of the new id list with the old scores), so only frames with
    # neither carry each object's own score.
    if not changed:
        result["tracker_scores"] = torch.tensor(tracker_scores, dtype=torch.float32)
    return result


@torch.no_grad()
def main():
    args = parse_args()
    torch.set_float32_matmul_precision("highest")
    model = load_model(args.model)
    size = model.tracker_model.image_size
    low = model.tracker_model.prompt_encoder.mask_input_size[0]  # 4g, the masks' side
    model.low_res_mask_size = low  # transformers' config default (288) is the release's 4g
    clip = make_clip(args.frames, size)
    input_ids, attention_mask = tokenize(args.model)

    session = Sam3VideoInferenceSession(video=clip, video_height=low, video_width=low,
                                        dtype=torch.float32)
    prompt_id = session.add_prompt(PROMPT)
    session.prompt_input_ids[prompt_id] = input_ids
    session.prompt_attention_masks[prompt_id] = attention_mask

    taps = Taps(model)
    saved = {"input_ids": input_ids, "attention_mask": attention_mask}
    frames_out = []
    for out in model.propagate_in_video_iterator(inference_session=session):
        f = out.frame_idx
        frames_out.append(f)
        for key, value in released(session, out, low, f in taps.changed).items():
            saved[f"f{f}.out.{key}"] = value
    if frames_out != list(range(args.frames)):
        raise RuntimeError(f"frames released out of order: {frames_out}")
    for f in range(args.frames):
        saved[f"f{f}.pixel_values"] = clip[f:f + 1]
    saved.update(taps.saved)
    saved = {k: v.contiguous() for k, v in saved.items()}
    save_file(saved, args.out, metadata={"frames": str(args.frames), "prompt": PROMPT})
    births = sorted({int(i) for f in range(args.frames) for i in saved[f"f{f}.out.ids"].tolist()})
    print(f"wrote {args.out}: {args.frames} frames, objects shown {births}")


if __name__ == "__main__":
    main()
