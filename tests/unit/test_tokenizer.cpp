#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <unistd.h>

using sam3::Tokenizer;
using Ids = std::vector<int64_t>;

namespace {

constexpr int64_t kSot = 49406, kEot = 49407;

std::string assets_gz() {
  const char *root = std::getenv("SAM3_SHARED_ASSETS");
  if (!root)
    return {};
  const std::string p = std::string(root) + "/tokenizer/bpe_simple_vocab_16e6.txt.gz";
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? p : std::string{};
}

// A fresh folder per test, removed afterwards. POSIX calls rather than std::filesystem: the
// torch wheel's libtorch.so exports its own (GCC 13) std::filesystem, which the dynamic linker
// may bind our calls to and which crashes with Debian 12's libstdc++ (remove_all did).
class TempDir {
public:
  TempDir() {
    char tmpl[] = "/tmp/sam3-tok-XXXXXX";
    const char *d = ::mkdtemp(tmpl);
    if (!d)
      throw std::runtime_error("mkdtemp failed");
    path_ = d;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string &name) const { return path_ + "/" + name; }
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

void write_text(const std::string &p, const std::string &text) {
  std::ofstream(p, std::ios::binary) << text;
}

void write_gz(const std::string &p, const std::string &text) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  gzclose(f);
}

std::string read_gz(const std::string &path) {
  gzFile f = gzopen(path.c_str(), "rb");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

// A merges file of the CLIP shape (header + 48,894 merges) whose merges are all "a b",
// with `bad_line` (1-based, 0 = none) replaced by a malformed one.
std::string clip_shaped_merges(size_t bad_line) {
  std::string text = "#version: 0.2\n";
  for (size_t line = 2; line <= 48895; ++line)
    text += line == bad_line ? "a b c\n" : "a b\n";
  return text;
}

// Expects `fn` to throw std::runtime_error whose message contains every one of `parts`.
void expect_error(const std::function<void()> &fn, const std::vector<std::string> &parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error &e) {
    for (const auto &part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "'" << e.what() << "' lacks '" << part << "'";
  }
}

class ClipTokenizer : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (!assets_gz().empty())
      tok_ = std::make_unique<Tokenizer>(Tokenizer::from_bpe_gz(assets_gz()));
  }
  static void TearDownTestSuite() { tok_.reset(); }
  void SetUp() override {
    if (!tok_)
      GTEST_SKIP() << "SAM3_SHARED_ASSETS/tokenizer/bpe_simple_vocab_16e6.txt.gz not available";
  }
  const Tokenizer &tok() const { return *tok_; }
  static std::unique_ptr<Tokenizer> tok_;
};
std::unique_ptr<Tokenizer> ClipTokenizer::tok_;

} // namespace

// ---- cleanup (no files needed) --------------------------------------------------------

TEST(TokenizerClean, WhitespaceIsStrippedAndCollapsed) {
  EXPECT_EQ(Tokenizer::clean("  red \t\n  car \r\n"), "red car");
  EXPECT_EQ(Tokenizer::clean("a\u00a0b\u3000c\u2003d"), "a b c d");
  EXPECT_EQ(Tokenizer::clean(" \t\n "), "");
}

TEST(TokenizerClean, LowerCasesAsciiAndCommonScripts) {
  EXPECT_EQ(Tokenizer::clean("RED Car"), "red car");
  EXPECT_EQ(Tokenizer::clean("ÀÉÎÕÜÇÑØÞ"), "àéîõüçñøþ");           // Latin-1
  EXPECT_EQ(Tokenizer::clean("ĀĂĄĆŁŃŒŠŸŽ"), "āăąćłńœšÿž");         // Latin Extended-A
  EXPECT_EQ(Tokenizer::clean("ΑΒΓΔ ΆΈΉ"), "αβγδ άέή");             // Greek
  EXPECT_EQ(Tokenizer::clean("СОБАКА ЁЖИК ЄЇ"), "собака ёжик єї"); // Cyrillic
  EXPECT_EQ(Tokenizer::clean("ẞ Ա Ⰰ"), "ß ա ⰰ"); // Latin Ext. Additional, Armenian, Glagolitic
  EXPECT_EQ(Tokenizer::clean("猫 123"), "猫 123");
}

TEST(TokenizerClean, LowerCaseContextRules) {
  // Python's str.lower(): final sigma, and dotted capital I becomes two code points.
  EXPECT_EQ(Tokenizer::clean("ΟΔΟΣ ΣΑΣ Σ"), "οδος σας σ");
  EXPECT_EQ(Tokenizer::clean("İ"), "i\u0307");
  // Final means: a cased letter before, none after, skipping case-ignorables ('.', '\'').
  EXPECT_EQ(Tokenizer::clean("ΟΔΟΣ. ΑΣ'Α ΑΣ'"), "οδος. ασ'α ας'");
  EXPECT_EQ(Tokenizer::clean("とΣ ΑΣと"), "とσ αςと"); // kana is a letter but not cased
}

TEST(TokenizerClean, HtmlEntitiesAreUnescapedTwice) {
  EXPECT_EQ(Tokenizer::clean("A &amp; B &lt;3 &gt; &quot;x&quot; &apos;"), "a & b <3 > \"x\" '");
  EXPECT_EQ(Tokenizer::clean("Tom&amp;amp;Jerry"), "tom&jerry");
  EXPECT_EQ(Tokenizer::clean("caf&eacute; &Eacute;T&Eacute;"), "café été");
  EXPECT_EQ(Tokenizer::clean("&#233;t&#xE9; &#X41;&#66"), "été ab");
  EXPECT_EQ(Tokenizer::clean("&copy2024 &amp x"), "©2024 & x"); // legacy names need no ';'
  EXPECT_EQ(Tokenizer::clean("&hellip;&mdash;&euro;&alpha;"), "…—€α");
  // Python's fix-ups: Windows-1252 for 0x80..0x9F, U+FFFD for NUL/out of range.
  EXPECT_EQ(Tokenizer::clean("&#128;&#0;&#1114112;"), "€\ufffd\ufffd");
  EXPECT_EQ(Tokenizer::clean("&nosuch; &#; & &#x;"), "&nosuch; &#; & &#x;");
  EXPECT_EQ(Tokenizer::clean("red&nbsp;&nbsp;car"), "red car");
}

TEST(TokenizerClean, FtfySubset) {
  EXPECT_EQ(Tokenizer::clean("person\u2019s \u201cdog\u201d"), "person's \"dog\"");
  EXPECT_EQ(Tokenizer::clean("ＲＥＤ　ＣＡＲ！"), "red car!");
  EXPECT_EQ(Tokenizer::clean("\ufb01sh \ufb02ower"), "fish flower");
  EXPECT_EQ(Tokenizer::clean("a\x01"
                             "b\x7f"
                             "c\ufeffd"),
            "abcd");
  // ftfy unescapes an entity before uncurling quotes, unless the text looks like HTML.
  EXPECT_EQ(Tokenizer::clean("it&rsquo;s"), "it's");
  EXPECT_EQ(Tokenizer::clean("<b>it&rsquo;s"), "<b>it\u2019s");
}

TEST(TokenizerClean, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(Tokenizer::clean("a\xff"
                             "b"),
            "a\ufffdb");
  EXPECT_EQ(Tokenizer::clean("a\xe2\x82"), "a\ufffd");     // truncated sequence: one U+FFFD
  EXPECT_EQ(Tokenizer::clean("\xc0\xaf"), "\ufffd\ufffd"); // overlong form
}

// ---- tiny in-memory vocabulary -------------------------------------------------------

namespace {
Tokenizer tiny() {
  return Tokenizer::from_memory({{"a", 0},
                                 {"b", 1},
                                 {"c", 2},
                                 {"a</w>", 3},
                                 {"b</w>", 4},
                                 {"c</w>", 5},
                                 {"ab", 6},
                                 {"abc</w>", 7},
                                 {"<|startoftext|>", 8},
                                 {"<|endoftext|>", 9}},
                                {{"a", "b"}, {"ab", "c</w>"}}, "<|startoftext|>", "<|endoftext|>");
}
} // namespace

TEST(TokenizerMemory, BpeMergesByRank) {
  const Tokenizer t = tiny();
  EXPECT_EQ(t.bos_id(), 8);
  EXPECT_EQ(t.eos_id(), 9);
  EXPECT_EQ(t.encode("abc"), (Ids{7}));
  EXPECT_EQ(t.encode("ab"), (Ids{0, 4})); // "b</w>" is not "b": no merge
  EXPECT_EQ(t.encode("cab ABC"), (Ids{2, 0, 4, 7}));
  EXPECT_EQ(t.encode("a <|endoftext|>"), (Ids{3, 9}));
  EXPECT_EQ(t.tokenize("abc", 4).ids, (Ids{8, 7, 9, 0}));
  EXPECT_EQ(t.decode({7, 0, 4}), "abc ab");
}

TEST(TokenizerMemory, BadVocabularies) {
  EXPECT_THROW(tiny().encode("abd"), std::invalid_argument); // "d" is not in the vocabulary
  EXPECT_THROW(Tokenizer::from_memory({{"a", 0}, {"<e>", 1}}, {}, "<s>", "<e>"),
               std::invalid_argument);
  EXPECT_THROW(Tokenizer::from_memory({{"a", 0}, {"<s>", 1}, {"<e>", 1}}, {}, "<s>", "<e>"),
               std::invalid_argument);
  EXPECT_THROW(tiny().tokenize("a", 0), std::invalid_argument);
  EXPECT_THROW(tiny().decode({42}), std::out_of_range);
}

// ---- malformed files (no shared assets needed) ----------------------------------------

TEST(TokenizerFiles, MissingFile) {
  TempDir dir;
  const std::string p = dir.file("nope.txt.gz");
  expect_error([&] { Tokenizer::from_bpe_gz(p); }, {p, "cannot be opened"});
  expect_error([&] { Tokenizer::from_path(dir.path()); }, {"neither vocab.json + merges.txt nor"});
}

TEST(TokenizerFiles, NotGzip) {
  TempDir dir;
  const auto p = dir.file("bpe.txt.gz");
  write_text(p, clip_shaped_merges(0));
  expect_error([&] { Tokenizer::from_bpe_gz(p); }, {p, "not a gzip file"});
}

TEST(TokenizerFiles, TruncatedAndCorruptGzip) {
  TempDir dir;
  const auto good = dir.file("good.gz"), cut = dir.file("cut.gz"), bad = dir.file("bad.gz");
  write_gz(good, clip_shaped_merges(0));
  EXPECT_EQ(Tokenizer::from_bpe_gz(good).vocab_size(), 512 + 1 + 2);
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_text(cut, bytes.substr(0, bytes.size() / 2));
  expect_error([&] { Tokenizer::from_bpe_gz(cut); }, {cut, "truncated"});
  std::string flipped = bytes;
  for (size_t i = 20; i < 40; ++i)
    flipped[i] = static_cast<char>(~flipped[i]);
  write_text(bad, flipped);
  expect_error([&] { Tokenizer::from_bpe_gz(bad); }, {bad, "corrupt"});
}

TEST(TokenizerFiles, TooFewOrMalformedMerges) {
  TempDir dir;
  const auto short_file = dir.file("short.gz"), bad_line = dir.file("badline.gz");
  write_gz(short_file, "#version: 0.2\ni n\nt h\n");
  expect_error([&] { Tokenizer::from_bpe_gz(short_file); },
               {short_file, "expected a header and at least 48894 merges"});
  write_gz(bad_line, clip_shaped_merges(1234));
  expect_error([&] { Tokenizer::from_bpe_gz(bad_line); }, {bad_line, "line 1234", "a b c"});
}

TEST(TokenizerFiles, BadVocabJsonAndMergesTxt) {
  TempDir dir;
  const auto vocab = dir.file("vocab.json"), merges = dir.file("merges.txt");
  write_text(merges, "#version: 0.2\na b\n");
  write_text(vocab, "{\"a\": 0, ");
  expect_error([&] { Tokenizer::from_vocab_merges(vocab, merges); }, {vocab, "invalid JSON"});
  write_text(vocab, "[1, 2]");
  expect_error([&] { Tokenizer::from_vocab_merges(vocab, merges); }, {vocab, "JSON object"});
  write_text(vocab, R"({"a": "zero"})");
  expect_error([&] { Tokenizer::from_vocab_merges(vocab, merges); },
               {vocab, "'a'", "not an integer"});
  write_text(vocab, R"({"a": 0, "<|endoftext|>": 1})");
  expect_error([&] { Tokenizer::from_vocab_merges(vocab, merges); }, {vocab, "<|startoftext|>"});
  write_text(vocab, R"({"a": 0, "b": 1, "a</w>": 2, "b</w>": 3, "ab</w>": 4,
                         "<|startoftext|>": 5, "<|endoftext|>": 6})");
  write_text(merges, "#version: 0.2\na b</w>\nab\n");
  expect_error([&] { Tokenizer::from_vocab_merges(vocab, merges); }, {merges, "line 3"});
  write_text(merges, "#version: 0.2\na b</w>\n");
  EXPECT_EQ(Tokenizer::from_path(dir.path()).encode("ab ba"), (Ids{4, 1, 2}));
}

// ---- CLIP's vocabulary ----------------------------------------------------------------
//
// Expected ids, verified by hand from the vocabulary's construction: byte symbols come in
// bytes_to_unicode() order starting at '!' (so "a</w>" = 256 + ('a' - '!') = 320, "!</w>" =
// 256, ","-> 267, digits '0'..'9' -> 271..280, and "!" itself is id 0); a merge of rank r
// (file line r + 2) is id 512 + r: "per son</w>" line 2023 -> 2533, "re d</w>" line 226 ->
// 736, "c ar</w>" line 1105 -> 1615, "do g</w>" line 1419 -> 1929, "h ello</w>" line 2796
// -> 3306, "wor ld</w>" line 492 -> 1002, "i t</w>" line 75 -> 585, "' s</w>" line 58 ->
// 568. The remaining ids come from an independent Python port of the reference
// (sam3 tokenizer_ve.py with unicodedata standing in for \p{L}/\p{N}).

TEST_F(ClipTokenizer, VocabularyLayout) {
  EXPECT_EQ(tok().vocab_size(), 49408);
  EXPECT_EQ(tok().bos_id(), kSot);
  EXPECT_EQ(tok().eos_id(), kEot);
  EXPECT_EQ(tok().token_to_id("<start_of_text>"), kSot);
  EXPECT_EQ(tok().token_to_id("<end_of_text>"), kEot);
  EXPECT_EQ(tok().token_to_id("!"), 0);
  EXPECT_EQ(tok().token_to_id("a</w>"), 320);
  EXPECT_EQ(tok().token_to_id("\u0100"), 188);       // byte 0x00, first shifted symbol
  EXPECT_EQ(tok().token_to_id("in"), 512);           // merge rank 0: "i n"
  EXPECT_EQ(tok().token_to_id("jekyll</w>"), 49405); // last merge kept: "jeky ll</w>"
}

TEST_F(ClipTokenizer, KnownWords) {
  EXPECT_EQ(tok().encode("a"), (Ids{320}));
  EXPECT_EQ(tok().encode("person"), (Ids{2533}));
  EXPECT_EQ(tok().encode("red car"), (Ids{736, 1615}));
  EXPECT_EQ(tok().encode("dog"), (Ids{1929}));
  EXPECT_EQ(tok().encode("a photo of a red car"), (Ids{320, 1125, 539, 320, 736, 1615}));
  EXPECT_EQ(tok().encode("it's"), (Ids{585, 568}));
}

TEST_F(ClipTokenizer, PunctuationAndDigits) {
  EXPECT_EQ(tok().encode("hello, world!"), (Ids{3306, 267, 1002, 256}));
  EXPECT_EQ(tok().encode("2024 cats"), (Ids{273, 271, 273, 275, 3989}));
  EXPECT_EQ(tok().encode("3.14"), (Ids{274, 269, 272, 275}));
  EXPECT_EQ(tok().encode("say \"cheese\""), (Ids{1451, 257, 4108, 257}));
  EXPECT_EQ(tok().encode("!~"), (Ids{0, 349})); // punctuation run, BPE leaves "!" alone
  EXPECT_EQ(tok().encode("!#"), (Ids{9670}));
}

TEST_F(ClipTokenizer, Unicode) {
  EXPECT_EQ(tok().encode("café"), (Ids{15304}));
  EXPECT_EQ(tok().encode("naïve café"), (Ids{1097, 35689, 563, 15304}));
  EXPECT_EQ(tok().encode("Ünïcödé"), (Ids{6522, 77, 35689, 66, 7255, 67, 4166}));
  EXPECT_EQ(tok().encode("猫と犬"), (Ids{163, 234, 104, 34671, 163, 232, 361}));
  EXPECT_EQ(tok().encode("🐶"), (Ids{10631}));
  EXPECT_EQ(tok().encode("СОБАКА"), (Ids{23669, 20978, 109, 16912, 27152, 27080}));
  EXPECT_EQ(tok().encode("ΟΔΟΣ"), (Ids{138, 123, 138, 112, 138, 123, 139, 480}));
  EXPECT_EQ(tok().encode("Straße"), (Ids{1894, 127, 253, 324}));
  // The combining dot of "i\u0307" is not a letter, so it splits the word.
  EXPECT_EQ(tok().encode("İstanbul"), (Ids{328, 16384, 11231}));
}

TEST_F(ClipTokenizer, CleanupFeedsEncoding) {
  EXPECT_EQ(tok().encode("A &amp; B &lt;3"), (Ids{320, 261, 321, 283, 274}));
  EXPECT_EQ(tok().encode("Tom&amp;amp;Jerry"), (Ids{2435, 261, 9164}));
  EXPECT_EQ(tok().encode("&eacute;t&#xE9;"), (Ids{3459, 39694}));
  EXPECT_EQ(tok().encode("  Red \t\n CAR  "), tok().encode("red car"));
  EXPECT_EQ(tok().encode("ＲＥＤ　ＣＡＲ"), tok().encode("red car"));
  EXPECT_EQ(tok().encode("person\u2019s"), (Ids{2533, 568}));
  EXPECT_EQ(tok().encode("\ufb01sh"), (Ids{2759}));
}

TEST_F(ClipTokenizer, SpecialTokensInText) {
  EXPECT_EQ(tok().encode("a <end_of_text>"), (Ids{320, kEot}));
  EXPECT_EQ(tok().encode("<START_OF_TEXT>"), (Ids{kSot}));
}

TEST_F(ClipTokenizer, TokenizePadsAndMasks) {
  const auto p = tok().tokenize("red car");
  ASSERT_EQ(p.ids.size(), 32u);
  ASSERT_EQ(p.mask.size(), 32u);
  EXPECT_EQ(Ids(p.ids.begin(), p.ids.begin() + 5), (Ids{kSot, 736, 1615, kEot, 0}));
  EXPECT_EQ(std::count(p.ids.begin() + 4, p.ids.end(), 0), 28);
  EXPECT_EQ(std::count(p.mask.begin(), p.mask.begin() + 4, 1), 4);
  EXPECT_EQ(std::count(p.mask.begin() + 4, p.mask.end(), 0), 28);
}

TEST_F(ClipTokenizer, MaskKeepsTokenIdZero) {
  // The reference's `ids != 0` mask would drop the "!" token here.
  const auto p = tok().tokenize("!~");
  EXPECT_EQ(Ids(p.ids.begin(), p.ids.begin() + 5), (Ids{kSot, 0, 349, kEot, 0}));
  EXPECT_EQ(Ids(p.mask.begin(), p.mask.begin() + 5), (Ids{1, 1, 1, 1, 0}));
}

TEST_F(ClipTokenizer, EmptyPromptIsSotEot) {
  for (const std::string text : {"", "   ", "&nbsp;\t"}) {
    const auto p = tok().tokenize(text);
    EXPECT_EQ(Ids(p.ids.begin(), p.ids.begin() + 3), (Ids{kSot, kEot, 0})) << text;
    EXPECT_EQ(std::count(p.mask.begin(), p.mask.end(), 1), 2) << text;
    EXPECT_TRUE(tok().encode(text).empty());
  }
}

TEST_F(ClipTokenizer, OverLongPromptIsTruncatedWithEotLast) {
  std::string text;
  for (int k = 0; k < 34; ++k)
    text += std::string(1, static_cast<char>('a' + k % 26)) + " ";
  const auto p = tok().tokenize(text);
  ASSERT_EQ(p.ids.size(), 32u);
  EXPECT_EQ(p.ids.front(), kSot);
  for (size_t k = 1; k < 31; ++k)
    EXPECT_EQ(p.ids[k], 320 + static_cast<int64_t>((k - 1) % 26)) << k;
  EXPECT_EQ(p.ids.back(), kEot);
  EXPECT_EQ(std::count(p.mask.begin(), p.mask.end(), 1), 32);
  EXPECT_EQ(tok().tokenize(text, 3).ids, (Ids{kSot, 320, kEot}));
  const auto exact = tok().tokenize(std::string(60, ' ') + "a b c", 5);
  EXPECT_EQ(exact.ids, (Ids{kSot, 320, 321, 322, kEot}));
}

TEST_F(ClipTokenizer, BatchTensors) {
  const auto batch = tok().tokenize_batch({"red car", "", "!~"});
  EXPECT_EQ(batch.input_ids.sizes(), (std::vector<int64_t>{3, 32}));
  EXPECT_EQ(batch.attention_mask.sizes(), (std::vector<int64_t>{3, 32}));
  EXPECT_EQ(batch.input_ids.scalar_type(), torch::kInt64);
  EXPECT_EQ(batch.attention_mask.scalar_type(), torch::kInt64);
  const std::vector<std::string> texts = {"red car", "", "!~"};
  for (int64_t b = 0; b < 3; ++b) {
    const auto p = tok().tokenize(texts[static_cast<size_t>(b)]);
    EXPECT_TRUE(batch.input_ids[b].equal(torch::tensor(p.ids)));
    EXPECT_TRUE(batch.attention_mask[b].equal(torch::tensor(p.mask)));
  }
  EXPECT_EQ(tok().tokenize_batch({}).input_ids.sizes(), (std::vector<int64_t>{0, 32}));
}

TEST_F(ClipTokenizer, DecodeRoundTrip) {
  for (const std::string text :
       {"a photo of a red car", "  Two   DOGS ", "naïve café", "猫と犬", "ünïcödé", "🐶 x"})
    EXPECT_EQ(tok().decode(tok().encode(text)), Tokenizer::clean(text)) << text;
  // Split pieces are separate words, so punctuation comes back space-separated.
  EXPECT_EQ(tok().decode(tok().encode("Hello, world!")), "hello , world !");
  EXPECT_EQ(tok().decode({kSot, 320, kEot}), "<start_of_text>a <end_of_text>");
  // Half of a multi-byte character decodes to U+FFFD, as errors="replace" does.
  EXPECT_EQ(tok().decode({163}), "\ufffd");
  EXPECT_THROW(tok().decode({49408}), std::out_of_range);
}

TEST_F(ClipTokenizer, VocabJsonAndMergesTxtMatchGz) {
  TempDir dir;
  nlohmann::json vocab = nlohmann::json::object();
  for (const auto &[symbol, id] : tok().vocabulary()) {
    const std::string name = symbol == "<start_of_text>" ? "<|startoftext|>"
                             : symbol == "<end_of_text>" ? "<|endoftext|>"
                                                         : symbol;
    vocab[name] = id;
  }
  write_text(dir.file("vocab.json"), vocab.dump());
  const std::string gz = read_gz(assets_gz());
  std::string merges;
  size_t line = 0, pos = 0;
  while (line <= 48894) {
    const size_t end = gz.find('\n', pos);
    merges += gz.substr(pos, end - pos) + "\n";
    pos = end + 1;
    ++line;
  }
  write_text(dir.file("merges.txt"), merges);

  const Tokenizer hf = Tokenizer::from_path(dir.path());
  EXPECT_EQ(hf.vocab_size(), tok().vocab_size());
  EXPECT_EQ(hf.bos_id(), kSot);
  EXPECT_EQ(hf.eos_id(), kEot);
  for (const std::string text : {"a photo of a red car", "hello, world!", "Ünïcödé 猫と犬 🐶",
                                 "2024 cats &amp; dogs", "person\u2019s"}) {
    EXPECT_EQ(hf.tokenize(text).ids, tok().tokenize(text).ids) << text;
  }
  EXPECT_EQ(hf.encode("<|endoftext|>"), (Ids{kEot}));
}
