#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sam3 {

// One prompt as the text encoder takes it: `context_length` ids (SOT, tokens, EOT, then
// padding with pad id 0) and a mask with 1 on the real tokens.
//
// The mask is "position < real length", deliberately NOT the reference's `ids != 0`: id 0
// is the byte symbol "!", so a prompt containing a lone "!" would lose that token in the
// reference. Padding is masked identically either way.
struct TokenizedPrompt {
  std::vector<int64_t> ids;
  std::vector<int64_t> mask;
};

// A batch of prompts: input_ids and attention_mask, both (B, context_length) int64, mask
// 1 = real token (transformers' attention_mask convention).
struct TokenizedBatch {
  torch::Tensor input_ids;
  torch::Tensor attention_mask;
};

// SAM 3's text tokenizer: OpenAI CLIP's byte-level BPE (sam3 `tokenizer_ve.py`
// SimpleTokenizer with clean="lower"; transformers' CLIPTokenizer reads the same vocabulary
// as vocab.json + merges.txt).
//
// Text cleanup ports what matters for typed prompts; see clean() for what is covered.
// encode() is thread-safe (the BPE cache is locked).
class Tokenizer {
public:
  static constexpr int64_t kContextLength = 32;
  static constexpr int64_t kPadId = 0;

  // CLIP's `bpe_simple_vocab_16e6.txt.gz`: vocab = 256 byte symbols, the same with "</w>",
  // merge lines 1..48894 joined, then <start_of_text> (49406) and <end_of_text> (49407).
  static Tokenizer from_bpe_gz(const std::string &path);

  // transformers' layout: vocab.json (symbol -> id, specials "<|startoftext|>" and
  // "<|endoftext|>") and merges.txt (optional "#version" first line, one "a b" per line).
  static Tokenizer from_vocab_merges(const std::string &vocab_json_path,
                                     const std::string &merges_txt_path);

  // A model folder: vocab.json + merges.txt when both exist, else
  // bpe_simple_vocab_16e6.txt.gz. `path` may also name one of those files directly.
  static Tokenizer from_path(const std::string &path);

  // In-memory vocabulary (e.g. a tiny test model). bos/eos ids are looked up in `vocab`;
  // merges are ranked in order (a repeated pair keeps its last rank, as a Python dict
  // would).
  static Tokenizer from_memory(std::unordered_map<std::string, int64_t> vocab,
                               const std::vector<std::pair<std::string, std::string>> &merges,
                               const std::string &bos_token, const std::string &eos_token);

  // Every byte and byte+"</w>" as a symbol, no merges, CLIP's special tokens: a small
  // vocabulary (514 symbols) for generated test models.
  static Tokenizer byte_level();

  // Writes the vocabulary in transformers' layout (vocab.json with "<|startoftext|>" and
  // "<|endoftext|>", merges.txt with a "#version" line), readable by from_vocab_merges and
  // by transformers' CLIPTokenizer. Throws std::runtime_error on I/O errors.
  void save(const std::string &vocab_json_path, const std::string &merges_txt_path) const;

  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;
  ~Tokenizer();

  // Cleaned text, as the reference feeds it to the splitter (see tokenizer.cpp for the
  // parts of ftfy that are ported and the Unicode coverage).
  static std::string clean(const std::string &text);

  // Token ids of `text` without SOT/EOT. Throws std::invalid_argument when a symbol is
  // missing from the vocabulary (only possible with a reduced vocabulary).
  std::vector<int64_t> encode(const std::string &text) const;

  // SOT + tokens + EOT, right-padded with kPadId to `context_length`; an over-long prompt
  // is cut to `context_length` with EOT forced into the last slot.
  TokenizedPrompt tokenize(const std::string &text, int64_t context_length = kContextLength) const;
  TokenizedBatch tokenize_batch(const std::vector<std::string> &texts,
                                int64_t context_length = kContextLength) const;

  // Text of `ids` ("</w>" becomes a space; leading/trailing spaces are stripped as
  // transformers' CLIPTokenizer does; invalid UTF-8 becomes U+FFFD). Specials decode to
  // their names. Throws std::out_of_range for an unknown id.
  std::string decode(const std::vector<int64_t> &ids) const;

  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t vocab_size() const { return static_cast<int64_t>(encoder_.size()); }

  // Id of a vocabulary symbol (byte-unicode form, e.g. "a</w>"), or -1.
  int64_t token_to_id(const std::string &symbol) const;
  const std::unordered_map<std::string, int64_t> &vocabulary() const { return encoder_; }

private:
  Tokenizer();

  std::vector<int64_t> bpe_ids(const std::string &token) const;

  std::unordered_map<std::string, int64_t> encoder_;
  std::unordered_map<int64_t, std::string> decoder_;
  std::unordered_map<std::string, int> merge_ranks_;
  std::string bos_token_, eos_token_;
  int64_t bos_id_ = -1, eos_id_ = -1;

  struct Cache;
  std::unique_ptr<Cache> cache_;
};

} // namespace sam3
