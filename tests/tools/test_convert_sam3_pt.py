#!/usr/bin/env python3
"""tools/convert_sam3_pt.py on a synthetic original-layout checkpoint.

A tiny model from sam3-make-test-model (transformers names) is turned back into the layout
of Meta's sam3.pt (packed q/k/v, cls row in pos_embed, text projection stored transposed,
RoPE tables, the keys transformers drops, tracker keys); converting that must give back the
original model.safetensors exactly.

Needs PyTorch; exits 77 (meson's "skipped") without it. SAM3_MAKE_TEST_MODEL names the
sam3-make-test-model executable (SAM3_BUILD_ROOT/tools/sam3-make-test-model otherwise).
"""

import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

try:
    import torch
except ImportError:
    print("SKIP: PyTorch (import torch) is not available; install python3-torch to run this test")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERTER = os.path.join(HERE, "..", "..", "tools", "convert_sam3_pt.py")

_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=_DTYPES[info["dtype"]])
        out[name] = flat.reshape(info["shape"])
    return out, meta


def make_test_model_exe():
    exe = os.environ.get("SAM3_MAKE_TEST_MODEL")
    if not exe and os.environ.get("SAM3_BUILD_ROOT"):
        exe = os.path.join(os.environ["SAM3_BUILD_ROOT"], "tools", "sam3-make-test-model")
    return exe


def merge(parts):
    return torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)


def to_original(hf, config):
    """The inverse of the converter's renames, written independently of it."""
    sd = {}
    g = torch.Generator().manual_seed(1)
    vit = config["vision_config"]["backbone_config"]
    t = "detector.backbone.vision_backbone.trunk."
    b = "vision_encoder.backbone."
    pos = hf[b + "embeddings.position_embeddings"]
    sd[t + "pos_embed"] = torch.cat([torch.randn(1, 1, pos.shape[2], generator=g), pos], dim=1)
    sd[t + "patch_embed.proj.weight"] = hf[b + "embeddings.patch_embeddings.projection.weight"]
    grid = vit["image_size"] // vit["patch_size"]
    window = vit["window_size"]
    half_head = vit["hidden_size"] // vit["num_attention_heads"] // 2
    for wb in ("weight", "bias"):
        sd[t + "ln_pre." + wb] = hf[b + "layer_norm." + wb]
    for i in range(vit["num_hidden_layers"]):
        o, n = t + "blocks.%d." % i, b + "layers.%d." % i
        for wb in ("weight", "bias"):
            sd[o + "norm1." + wb] = hf[n + "layer_norm1." + wb]
            sd[o + "norm2." + wb] = hf[n + "layer_norm2." + wb]
            sd[o + "attn.qkv." + wb] = merge({p: hf[n + "attention.%s_proj.%s" % (p, wb)] for p in "qkv"})
            sd[o + "attn.proj." + wb] = hf[n + "attention.o_proj." + wb]
            sd[o + "mlp.fc1." + wb] = hf[n + "mlp.fc1." + wb]
            sd[o + "mlp.fc2." + wb] = hf[n + "mlp.fc2." + wb]
        side = grid if i in vit["global_attn_indexes"] else window
        sd[o + "attn.freqs_cis"] = torch.zeros(side * side, half_head, dtype=torch.complex64)

    names = {"scale_layers.0": "dconv_2x2_0", "scale_layers.2": "dconv_2x2_1", "proj1": "conv_1x1", "proj2": "conv_3x3"}
    for key, value in hf.items():
        if key.startswith("vision_encoder.neck.fpn_layers."):
            level, rest = key[len("vision_encoder.neck.fpn_layers."):].split(".", 1)
            module, wb = rest.rsplit(".", 1)
            old = names[module]
            if old == "dconv_2x2_0" and "vision_encoder.neck.fpn_layers.%s.scale_layers.2.weight" % level not in hf:
                old = "dconv_2x2"  # the x2 level has one transposed conv, the x4 level two
            for neck in ("convs", "sam2_convs"):  # the tracker neck has the same shapes
                sd["detector.backbone.vision_backbone.%s.%s.%s.%s" % (neck, level, old, wb)] = value.clone()

    lb = "detector.backbone.language_backbone."
    tm = "text_encoder.text_model."
    sd[lb + "encoder.token_embedding.weight"] = hf[tm + "embeddings.token_embedding.weight"]
    sd[lb + "encoder.positional_embedding"] = hf[tm + "embeddings.position_embedding.weight"]
    sd[lb + "encoder.text_projection"] = hf["text_encoder.text_projection.weight"].t().contiguous()
    for wb in ("weight", "bias"):
        sd[lb + "encoder.ln_final." + wb] = hf[tm + "final_layer_norm." + wb]
        sd[lb + "resizer." + wb] = hf["text_projection." + wb]
    for i in range(config["text_config"]["num_hidden_layers"]):
        o, n = lb + "encoder.transformer.resblocks.%d." % i, tm + "encoder.layers.%d." % i
        for wb in ("weight", "bias"):
            sd[o + "attn.in_proj_" + wb] = merge({p: hf[n + "self_attn.%s_proj.%s" % (p, wb)] for p in "qkv"})
            sd[o + "attn.out_proj." + wb] = hf[n + "self_attn.out_proj." + wb]
            sd[o + "ln_1." + wb] = hf[n + "layer_norm1." + wb]
            sd[o + "ln_2." + wb] = hf[n + "layer_norm2." + wb]
            sd[o + "mlp.c_fc." + wb] = hf[n + "mlp.fc1." + wb]
            sd[o + "mlp.c_proj." + wb] = hf[n + "mlp.fc2." + wb]

    def attn(old, new):
        for wb in ("weight", "bias"):
            sd[old + ".in_proj_" + wb] = merge({p: hf["%s.%s_proj.%s" % (new, p, wb)] for p in "qkv"})
            sd[old + ".out_proj." + wb] = hf[new + ".o_proj." + wb]

    def same(old, new):
        for wb in ("weight", "bias"):
            if new + "." + wb in hf:
                sd[old + "." + wb] = hf[new + "." + wb]

    def prompt_layers(old, new, count, cross):
        for i in range(count):
            o, n = "%s.%d." % (old, i), "%s.%d." % (new, i)
            attn(o + "self_attn", n + "self_attn")
            attn(o + cross, n + "cross_attn")
            same(o + "linear1", n + "mlp.fc1")
            same(o + "linear2", n + "mlp.fc2")
            for k in "123":
                same(o + "norm" + k, n + "layer_norm" + k)

    geo = "detector.geometry_encoder."
    gd = config["geometry_encoder_config"]["hidden_size"]
    prompt_layers(geo + "encode", "geometry_encoder.layers", config["geometry_encoder_config"]["num_layers"],
                  "cross_attn_image")
    same(geo + "img_pre_norm", "geometry_encoder.vision_layer_norm")
    same(geo + "norm", "geometry_encoder.prompt_layer_norm")
    same(geo + "encode_norm", "geometry_encoder.output_layer_norm")
    for n in ("label_embed", "cls_embed", "boxes_direct_project", "boxes_pool_project", "boxes_pos_enc_project",
              "final_proj"):
        same(geo + n, "geometry_encoder." + n)
    for n, n_in in (("points_direct_project", 2), ("points_pool_project", gd), ("points_pos_enc_project", gd)):
        sd[geo + n + ".weight"] = torch.randn(gd, n_in, generator=g)
        sd[geo + n + ".bias"] = torch.randn(gd, generator=g)

    prompt_layers("detector.transformer.encoder.layers", "detr_encoder.layers",
                  config["detr_encoder_config"]["num_layers"], "cross_attn_image")

    dec = "detector.transformer.decoder."
    for n in ("query_embed", "reference_points", "presence_token"):
        same(dec + n, "detr_decoder." + n)
    same(dec + "presence_token_out_norm", "detr_decoder.presence_layer_norm")
    same(dec + "norm", "detr_decoder.output_layer_norm")
    for old, new, count in (("presence_token_head", "presence_head", 3), ("bbox_embed", "box_head", 3),
                            ("ref_point_head", "ref_point_head", 2), ("boxRPB_embed_x", "box_rpb_embed_x", 2),
                            ("boxRPB_embed_y", "box_rpb_embed_y", 2)):
        for i in range(count):
            same(dec + "%s.layers.%d" % (old, i), "detr_decoder.%s.layer%d" % (new, i + 1))
    for i in range(config["detr_decoder_config"]["num_layers"]):
        o, n = dec + "layers.%d." % i, "detr_decoder.layers.%d." % i
        attn(o + "self_attn", n + "self_attn")
        attn(o + "ca_text", n + "text_cross_attn")
        attn(o + "cross_attn", n + "vision_cross_attn")
        for old, new in (("norm1", "vision_cross_attn_layer_norm"), ("catext_norm", "text_cross_attn_layer_norm"),
                         ("norm2", "self_attn_layer_norm"), ("norm3", "mlp_layer_norm"),
                         ("linear1", "mlp.fc1"), ("linear2", "mlp.fc2")):
            same(o + old, n + new)

    ds = "detector.dot_prod_scoring."
    same(ds + "prompt_mlp.layers.0", "dot_product_scoring.text_mlp.layer1")
    same(ds + "prompt_mlp.layers.1", "dot_product_scoring.text_mlp.layer2")
    same(ds + "prompt_mlp.out_norm", "dot_product_scoring.text_mlp_out_norm")
    same(ds + "prompt_proj", "dot_product_scoring.text_proj")
    same(ds + "hs_proj", "dot_product_scoring.query_proj")

    sh = "detector.segmentation_head."
    for i in range(config["mask_decoder_config"]["num_upsampling_stages"]):
        same(sh + "pixel_decoder.conv_layers.%d" % i, "mask_decoder.pixel_decoder.conv_layers.%d" % i)
        same(sh + "pixel_decoder.norms.%d" % i, "mask_decoder.pixel_decoder.norms.%d" % i)
    for i in range(3):
        same(sh + "mask_predictor.mask_embed.layers.%d" % i, "mask_decoder.mask_embedder.layers.%d" % i)
    same(sh + "instance_seg_head", "mask_decoder.instance_projection")
    same(sh + "semantic_seg_head", "mask_decoder.semantic_projection")
    attn(sh + "cross_attend_prompt", "mask_decoder.prompt_cross_attn")
    same(sh + "cross_attn_norm", "mask_decoder.prompt_cross_attn_norm")

    # A few tracker entries of each kind the real file has (the converter drops them all).
    sd["tracker.maskmem_tpos_enc"] = torch.randn(7, 1, 1, 64, generator=g)
    sd["tracker.sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"] = torch.randn(2, 128, generator=g)
    sd["tracker.transformer.encoder.layers.0.self_attn.q_proj.weight"] = torch.randn(256, 256, generator=g)
    return sd


class ConvertSam3PtTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        exe = make_test_model_exe()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model_dir = os.path.join(cls.tmp.name, "tiny")
        subprocess.run([exe, "--preset", "tiny", cls.model_dir], check=True, stdout=subprocess.DEVNULL)
        cls.original, _ = read_safetensors(os.path.join(cls.model_dir, "model.safetensors"))
        with open(os.path.join(cls.model_dir, "config.json")) as f:
            cls.config = json.load(f)
        cls.sd = to_original(cls.original, cls.config)
        cls.pt = os.path.join(cls.tmp.name, "sam3.pt")
        torch.save(cls.sd, cls.pt)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def convert(self, pt, out, *extra):
        return subprocess.run(
            [sys.executable, CONVERTER, pt, out, "--config", os.path.join(self.model_dir, "config.json")] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_round_trip_gives_the_original_tensors(self):
        out = os.path.join(self.tmp.name, "converted")
        bpe = os.path.join(self.tmp.name, "bpe.gz")
        with open(bpe, "wb") as f:
            f.write(b"not checked by the converter")
        r = self.convert(self.pt, out, "--bpe", bpe)
        self.assertEqual(r.returncode, 0, r.stderr)
        converted, meta = read_safetensors(os.path.join(out, "model.safetensors"))
        self.assertEqual(meta.get("format"), "pt")
        self.assertEqual(sorted(converted), sorted(self.original))
        for name, tensor in self.original.items():
            self.assertEqual(converted[name].dtype, tensor.dtype, name)
            self.assertEqual(list(converted[name].shape), list(tensor.shape), name)
            self.assertTrue(torch.equal(converted[name], tensor), name)
        with open(os.path.join(out, "config.json")) as f:
            self.assertEqual(json.load(f), self.config)
        self.assertTrue(os.path.isfile(os.path.join(out, "bpe_simple_vocab_16e6.txt.gz")))
        self.assertIn("dropped 3 key(s): tracker", r.stdout)
        self.assertIn("dropped 6 key(s): point-prompt", r.stdout)

    def test_model_dict_wrapper_is_accepted(self):
        pt = os.path.join(self.tmp.name, "wrapped.pt")
        torch.save({"model": self.sd}, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "wrapped"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no tokenizer written", r.stdout)

    def test_missing_file(self):
        r = self.convert(os.path.join(self.tmp.name, "absent.pt"), os.path.join(self.tmp.name, "o1"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("absent.pt: no such file", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_not_a_checkpoint(self):
        path = os.path.join(self.tmp.name, "garbage.pt")
        with open(path, "wb") as f:
            f.write(b"this is not a pickle" * 10)
        r = self.convert(path, os.path.join(self.tmp.name, "o2"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a readable PyTorch checkpoint", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_unexpected_key_is_named(self):
        sd = dict(self.sd)
        sd["detector.transformer.decoder.mystery.weight"] = torch.zeros(3)
        pt = os.path.join(self.tmp.name, "extra.pt")
        torch.save(sd, pt)
        out = os.path.join(self.tmp.name, "o3")
        r = self.convert(pt, out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("detector.transformer.decoder.mystery.weight", r.stderr)
        self.assertIn("neither converted nor known to be unused", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "model.safetensors")))

    def test_wrong_shape_is_named(self):
        sd = dict(self.sd)
        sd["detector.transformer.decoder.query_embed.weight"] = torch.zeros(7, 32)
        pt = os.path.join(self.tmp.name, "misshaped.pt")
        torch.save(sd, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "o4"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("detr_decoder.query_embed.weight: shape [7, 32], config wants [20, 32]", r.stderr)

    def test_missing_key_is_named(self):
        sd = {k: v for k, v in self.sd.items() if k != "detector.geometry_encoder.cls_embed.weight"}
        pt = os.path.join(self.tmp.name, "short.pt")
        torch.save(sd, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "o5"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing from the checkpoint: geometry_encoder.cls_embed.weight", r.stderr)


if __name__ == "__main__":
    if not make_test_model_exe() or not os.path.exists(make_test_model_exe()):
        print("SKIP: sam3-make-test-model not found (set SAM3_MAKE_TEST_MODEL or SAM3_BUILD_ROOT)")
        sys.exit(77)
    unittest.main()
