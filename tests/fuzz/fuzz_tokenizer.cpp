// Tokenizer files and prompt text: the input is vocab.json, a 0 byte, merges.txt, a 0 byte,
// a prompt. Bad files give an exception; any prompt gives exactly the context length of ids.
#include "text/tokenizer.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace {
void write(const std::string &path, const std::string &text) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    std::abort();
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

void check(const sam3::Tokenizer &tokenizer, const std::string &prompt) {
  const auto t = tokenizer.tokenize(prompt);
  if (static_cast<int64_t>(t.ids.size()) != sam3::Tokenizer::kContextLength)
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const sam3::Tokenizer byte_level = sam3::Tokenizer::byte_level();
  const std::string input(reinterpret_cast<const char *>(data), size);
  const auto a = input.find('\0');
  const auto b = a == std::string::npos ? a : input.find('\0', a + 1);
  const std::string prompt = b == std::string::npos ? input : input.substr(b + 1);
  check(byte_level, prompt);
  if (b == std::string::npos)
    return 0;
  static const std::string dir = "/tmp/sam3-fuzz-tok-" + std::to_string(getpid());
  write(dir + "-vocab.json", input.substr(0, a));
  write(dir + "-merges.txt", input.substr(a + 1, b - a - 1));
  try {
    const auto tokenizer =
        sam3::Tokenizer::from_vocab_merges(dir + "-vocab.json", dir + "-merges.txt");
    check(tokenizer, prompt);
  } catch (const std::exception &) {
  }
  return 0;
}
