// sam3-make-test-model [--preset tiny|tiny-video|reference-video|full|full-video] [--seed N]
// [--bpe FILE] OUT_DIR
//
// Writes a SAM 3 model folder with seeded random weights (config.json, model.safetensors,
// vocab.json, merges.txt), so tests and demos run without the gated real weights.
#include "model/test_model.h"

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

int usage(const char *argv0, const std::string &why) {
  if (!why.empty())
    std::cerr << argv0 << ": " << why << "\n";
  std::cerr << "usage: " << argv0
            << " [--preset tiny|tiny-video|reference-video|full|full-video] [--seed N]"
            << " [--bpe FILE] OUT_DIR\n"
            << "  --preset  tiny (default; a few MB, milliseconds per frame on a CPU), tiny-video\n"
            << "            (tiny plus the video tracker: a sam3_video release), reference-video\n"
            << "            (a sam3_video that transformers can load: the parity tests' model)\n"
            << "            full (the official SAM 3 image model sizes, 3.4 GB) or full-video\n"
            << "            (the official sizes as a sam3_video release, detector and tracker)\n"
            << "  --seed    random seed of the weights (default 0)\n"
            << "  --bpe     CLIP's bpe_simple_vocab_16e6.txt.gz for the real tokenizer; without\n"
            << "            it a byte-level vocabulary is written\n"
            << "The weights are RANDOM: detections are meaningless, only the machinery is real.\n";
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  std::string preset = "tiny", bpe, out;
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char *name) -> std::string {
      if (i + 1 >= argc)
        throw std::invalid_argument(std::string(name) + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--preset")
        preset = value("--preset");
      else if (a == "--seed")
        seed = std::stoull(value("--seed"));
      else if (a == "--bpe")
        bpe = value("--bpe");
      else if (a == "-h" || a == "--help")
        return usage(argv[0], "");
      else if (!a.empty() && a[0] == '-')
        return usage(argv[0], "unknown option " + a);
      else if (out.empty())
        out = a;
      else
        return usage(argv[0], "more than one output folder given");
    } catch (const std::exception &e) {
      return usage(argv[0], e.what());
    }
  }
  if (out.empty())
    return usage(argv[0], "no output folder given");
  if (preset != "tiny" && preset != "tiny-video" && preset != "reference-video" &&
      preset != "full" && preset != "full-video")
    return usage(argv[0], "unknown preset \"" + preset +
                              "\" (tiny, tiny-video, reference-video, full or full-video)");
  try {
    const auto config = preset == "tiny"              ? sam3::tiny_test_config()
                        : preset == "tiny-video"      ? sam3::tiny_video_test_config()
                        : preset == "reference-video" ? sam3::reference_video_test_config()
                        : preset == "full-video"      ? sam3::full_video_test_config()
                                                      : sam3::full_test_config();
    sam3::write_test_model(out, config, seed, bpe);
  } catch (const std::exception &e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    return 1;
  }
  std::cout << "wrote a " << preset << " SAM 3 test model with RANDOM weights (seed " << seed
            << ") to " << out << "\n";
  return 0;
}
