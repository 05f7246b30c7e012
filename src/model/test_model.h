// Generated models for tests, demos and benchmarks: the real architecture (or a tiny one)
// with seeded random weights, written in the release's layout so every loader path is the
// one real weights take. The real SAM 3 weights are gated and never needed here.
#pragma once

#include "model/config.h"

#include <cstdint>
#include <string>

namespace sam3 {

// The official SAM 3 sizes (config.h defaults), image-only form.
ModelConfig full_test_config();
// The official sizes as a sam3_video release (the detector plus the release's tracker).
ModelConfig full_video_test_config();
// A few-MB model that runs a frame in milliseconds on a CPU: every block present, every
// size shrunk (112 x 112 input, 8 x 8 patch grid, width 32), real tokenizer vocabulary size.
ModelConfig tiny_test_config();
// tiny_test_config as a sam3_video release, with a tracker of the same width (grid 8,
// 32x32 low-resolution masks, 16-channel memories).
ModelConfig tiny_video_test_config();

// The smallest sam3_video model both references load (the tracker parity test's): 128 wide
// from the neck on, with the release's 64-channel memory.
ModelConfig reference_video_test_config();

// Writes config.json, model.safetensors (seeded random weights, transformers names) and a
// tokenizer (vocab.json + merges.txt) into `dir` (created if needed). The tokenizer is CLIP's
// when `bpe_gz` names bpe_simple_vocab_16e6.txt.gz, else a byte-level vocabulary without
// merges (every byte is a token: enough to drive random weights). Throws on I/O errors.
void write_test_model(const std::string &dir, const ModelConfig &config, uint64_t seed,
                      const std::string &bpe_gz = "");

} // namespace sam3
