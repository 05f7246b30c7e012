#include "io/safetensors.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace sam3 {
namespace {

class SafetensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "sam3_safetensors_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::string file(const std::string &name) const { return dir_ + "/" + name; }

  // Writes `bytes` verbatim.
  static void write_bytes(const std::string &path, const std::string &bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  static std::string u64_le(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i)
      s[i] = static_cast<char>(v >> (8 * i));
    return s;
  }

  // A file with a correct length prefix for `header` followed by `data`.
  std::string make_file(const std::string &name, const std::string &header,
                        const std::string &data) const {
    const std::string path = file(name);
    write_bytes(path, u64_le(header.size()) + header + data);
    return path;
  }

  std::string dir_;
};

// The message of the ModelFileError that `f` throws, or "" (a test failure) if none.
std::string error_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const ModelFileError &e) {
    return e.what();
  }
  ADD_FAILURE() << "no ModelFileError thrown";
  return "";
}

// Whether [ptr, ptr+size) lies inside a mapping of `path` in this process.
bool inside_mapping_of(const void *ptr, size_t size, const std::string &path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto p = reinterpret_cast<uintptr_t>(ptr);
  while (std::getline(maps, line)) {
    if (line.find(path) == std::string::npos)
      continue;
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream in(line);
    in >> std::hex >> lo >> dash >> hi;
    if (p >= lo && p + size <= hi)
      return true;
  }
  return false;
}

bool mapped(const std::string &path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(path) != std::string::npos)
      return true;
  return false;
}

TEST_F(SafetensorsTest, RoundTripsEveryDtype) {
  const auto base = torch::arange(-6, 6).reshape({3, 4});
  const std::vector<std::pair<std::string, torch::ScalarType>> dtypes = {
      {"F64", torch::kDouble},    {"F32", torch::kFloat}, {"F16", torch::kHalf},
      {"BF16", torch::kBFloat16}, {"I64", torch::kLong},  {"I32", torch::kInt},
      {"I16", torch::kShort},     {"I8", torch::kChar},   {"U8", torch::kByte},
      {"BOOL", torch::kBool}};
  std::map<std::string, torch::Tensor> tensors;
  for (const auto &[name, type] : dtypes) {
    auto t = type == torch::kBool ? base.remainder(3).eq(0) : base.to(type);
    if (type == torch::kByte)
      t = (base + 100).to(type);
    if (torch::isFloatingType(type))
      t = (base.to(torch::kDouble) * 0.25).to(type);
    tensors["t_" + name] = t;
  }
  const std::string path = file("all.safetensors");
  write_safetensors(path, tensors);

  const auto f = SafetensorsFile::open(path);
  std::vector<std::string> expected_names;
  for (const auto &entry : tensors)
    expected_names.push_back(entry.first);
  EXPECT_EQ(f.names(), expected_names);
  for (const auto &[name, type] : dtypes) {
    const std::string key = "t_" + name;
    ASSERT_TRUE(f.has(key));
    EXPECT_EQ(f.info(key).dtype, type);
    EXPECT_EQ(f.info(key).dtype_name, name);
    EXPECT_EQ(f.info(key).shape, (std::vector<int64_t>{3, 4}));
    const auto t = f.tensor(key);
    EXPECT_EQ(t.scalar_type(), type);
    EXPECT_TRUE(torch::equal(t, tensors[key])) << key;
  }
  EXPECT_FALSE(f.has("t_missing"));
}

TEST_F(SafetensorsTest, RoundTripsZeroSizeAndScalarTensors) {
  const std::string path = file("zero.safetensors");
  write_safetensors(path, {{"empty", torch::zeros({0}, torch::kFloat)},
                           {"empty3d", torch::zeros({3, 0, 2}, torch::kLong)},
                           {"scalar", torch::tensor(7.5)},
                           {"one", torch::ones({1}, torch::kHalf)}});
  const auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f.info("empty").shape, (std::vector<int64_t>{0}));
  EXPECT_EQ(f.info("empty3d").shape, (std::vector<int64_t>{3, 0, 2}));
  EXPECT_EQ(f.info("empty3d").data_begin, f.info("empty3d").data_end);
  EXPECT_EQ(f.tensor("empty3d").sizes(), (std::vector<int64_t>{3, 0, 2}));
  EXPECT_EQ(f.tensor("empty").numel(), 0);
  EXPECT_EQ(f.info("scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(f.tensor("scalar").dim(), 0);
  EXPECT_EQ(f.tensor("scalar").item<double>(), 7.5);
  EXPECT_EQ(f.tensor("one").item<float>(), 1.0f);
}

TEST_F(SafetensorsTest, FileWithOnlyZeroSizeTensorsOrNoneOpens) {
  const auto f = SafetensorsFile::open(make_file("none.safetensors", "{}", ""));
  EXPECT_TRUE(f.names().empty());
  const auto g = SafetensorsFile::open(
      make_file("z.safetensors", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", ""));
  EXPECT_EQ(g.tensor("a").numel(), 0);
}

TEST_F(SafetensorsTest, RoundTripsMetadata) {
  const std::string path = file("meta.safetensors");
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "tiny \"x\""}};
  write_safetensors(path, {{"w", torch::ones({2})}}, metadata);
  EXPECT_EQ(SafetensorsFile::open(path).metadata(), metadata);

  write_safetensors(path, {{"w", torch::ones({2})}});
  EXPECT_TRUE(SafetensorsFile::open(path).metadata().empty());
}

TEST_F(SafetensorsTest, TensorsViewTheMappingWithoutCopy) {
  const std::string path = file("view.safetensors");
  write_safetensors(path, {{"a", torch::arange(16, torch::kFloat)}, {"b", torch::ones({4, 4})}});
  const auto f = SafetensorsFile::open(path);
  const auto a = f.tensor("a");
  const auto b = f.tensor("b");
  EXPECT_TRUE(inside_mapping_of(a.data_ptr(), a.nbytes(), path));
  EXPECT_TRUE(inside_mapping_of(b.data_ptr(), b.nbytes(), path));
  // Two calls view the same bytes.
  EXPECT_EQ(f.tensor("a").data_ptr(), a.data_ptr());
}

TEST_F(SafetensorsTest, TensorKeepsMappingAliveAfterFileObjectAndPathAreGone) {
  const std::string path = file("alive.safetensors");
  const auto original = torch::randn({5, 3});
  write_safetensors(path, {{"w", original}});
  torch::Tensor w;
  {
    const auto f = SafetensorsFile::open(path);
    w = f.tensor("w");
  }
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_TRUE(torch::equal(w, original));
  EXPECT_TRUE(mapped(path));
  w = torch::Tensor();
  EXPECT_FALSE(mapped(path));
}

TEST_F(SafetensorsTest, WriterPadsHeaderAndAlignsData) {
  const std::string path = file("layout.safetensors");
  write_safetensors(path,
                    {{"a_byte", torch::ones({3}, torch::kByte)},
                     {"b_double", torch::ones({3}, torch::kDouble)},
                     {"c_half", torch::ones({1}, torch::kHalf)},
                     {"d_float", torch::ones({1}, torch::kFloat)}},
                    {{"k", "v"}});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  const auto last = header.find_last_not_of(' ');
  EXPECT_EQ(header[last], '}');
  EXPECT_LT(header.size() - 1 - last, 8u);

  const auto f = SafetensorsFile::open(path);
  for (const auto &name : f.names()) {
    const auto &info = f.info(name);
    EXPECT_EQ(info.data_begin % torch::elementSize(info.dtype), 0u) << name;
    EXPECT_TRUE(inside_mapping_of(f.tensor(name).data_ptr(), 1, path)) << name;
  }
  // Largest elements first, then by name.
  EXPECT_EQ(f.info("b_double").data_begin, 0u);
  EXPECT_EQ(f.info("d_float").data_begin, 24u);
  EXPECT_EQ(f.info("c_half").data_begin, 28u);
  EXPECT_EQ(f.info("a_byte").data_begin, 30u);
}

TEST_F(SafetensorsTest, WriterStoresNonContiguousTensorsByValue) {
  const std::string path = file("strided.safetensors");
  const auto t = torch::arange(12, torch::kFloat).reshape({3, 4}).t();
  ASSERT_FALSE(t.is_contiguous());
  write_safetensors(path, {{"t", t}});
  EXPECT_TRUE(torch::equal(SafetensorsFile::open(path).tensor("t"), t));
}

TEST_F(SafetensorsTest, WriterRejectsBadInput) {
  const std::string path = file("bad_out.safetensors");
  std::string msg = error_of([&] {
    write_safetensors(path, std::vector<std::pair<std::string, torch::Tensor>>{
                                {"x", torch::ones({1})}, {"x", torch::ones({1})}});
  });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("duplicate"), std::string::npos) << msg;

  msg = error_of([&] { write_safetensors(path, {{"__metadata__", torch::ones({1})}}); });
  EXPECT_NE(msg.find("reserved"), std::string::npos) << msg;

  msg = error_of([&] { write_safetensors(path, {{"c", torch::ones({2}, torch::kComplexFloat)}}); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("unsupported dtype"), std::string::npos) << msg;

  msg = error_of([&] { write_safetensors(file("no/such/dir.safetensors"), {}); });
  EXPECT_NE(msg.find("cannot create"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, MisalignedTensorFromAnotherWriterIsCopiedCorrectly) {
  const float value = 3.25f;
  std::string data(1, '\x07');
  data.append(reinterpret_cast<const char *>(&value), sizeof value);
  const auto f =
      SafetensorsFile::open(make_file("misaligned.safetensors",
                                      R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})",
                                      data));
  const auto b = f.tensor("b");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data_ptr()) % 4, 0u);
  EXPECT_EQ(b.item<float>(), value);
  EXPECT_EQ(f.tensor("a").item<uint8_t>(), 7);
}

TEST_F(SafetensorsTest, UnknownTensorNameIsAnError) {
  const std::string path = file("one.safetensors");
  write_safetensors(path, {{"w", torch::ones({1})}});
  const auto f = SafetensorsFile::open(path);
  for (const std::string &msg :
       {error_of([&] { f.info("zzz"); }), error_of([&] { f.tensor("zzz"); })}) {
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("no tensor 'zzz'"), std::string::npos) << msg;
  }
}

TEST_F(SafetensorsTest, BoolTensorWithInvalidByteIsAnError) {
  const auto f = SafetensorsFile::open(
      make_file("bool.safetensors", R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})",
                std::string("\x01\x02", 2)));
  const std::string msg = error_of([&] { f.tensor("m"); });
  EXPECT_NE(msg.find("bool.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("BOOL tensor 'm'"), std::string::npos) << msg;
}

struct Hostile {
  const char *name;
  std::string bytes; // the whole file
  const char *keyword;
};

std::string framed(const std::string &header, const std::string &data = "") {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[i] = static_cast<char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  return s + header + data;
}

std::string entry(const std::string &name, const std::string &dtype, const std::string &shape,
                  const std::string &offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

TEST_F(SafetensorsTest, HostileFilesGiveNamedErrors) {
  const std::string u64_max_half = std::string("\0\0\0\0\0\0\0\x80", 8); // 2^63
  const std::vector<Hostile> cases = {
      {"empty", "", "too short"},
      {"seven_bytes", std::string(7, '\0'), "too short"},
      {"header_past_file", std::string("\xe8\x03\0\0\0\0\0\0", 8) + "{}", "runs past the end"},
      {"header_2_pow_63", u64_max_half + "{}", "runs past the end"},
      {"invalid_json", framed("{\"a\":"), "not valid JSON"},
      {"invalid_utf8", framed("{\"\xff\":1}"), "not valid JSON"},
      {"not_object", framed("[1,2,3]"), "not a JSON object"},
      {"entry_not_object", framed("{\"a\":5}"), "entry is not a JSON object"},
      {"missing_dtype", framed(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", "1234"),
       "no \"dtype\""},
      {"unknown_dtype", framed("{" + entry("a", "F8_E4M3", "[1]", "[0,1]") + "}", "x"),
       "unsupported dtype 'F8_E4M3'"},
      {"u16_dtype", framed("{" + entry("a", "U16", "[1]", "[0,2]") + "}", "xx"),
       "unsupported dtype 'U16'"},
      {"negative_shape", framed("{" + entry("a", "F32", "[-1]", "[0,4]") + "}", "1234"),
       "not a non-negative integer"},
      {"float_shape", framed("{" + entry("a", "F32", "[1.0]", "[0,4]") + "}", "1234"),
       "not a non-negative integer"},
      {"overflowing_shape",
       framed("{" + entry("a", "F32", "[4611686018427387904,4611686018427387904]", "[0,4]") + "}",
              "1234"),
       "overflows"},
      {"shape_times_size_overflows",
       framed("{" + entry("a", "F64", "[4611686018427387904]", "[0,4]") + "}", "1234"),
       "overflows"},
      {"zero_size_overflowing_shape",
       framed("{" + entry("a", "U8", "[0,4611686018427387904,4611686018427387904]", "[0,0]") + "}"),
       "overflows"},
      {"shape_not_list", framed("{" + entry("a", "F32", "3", "[0,4]") + "}", "1234"),
       "shape is not an array"},
      {"size_mismatch", framed("{" + entry("a", "F32", "[2]", "[0,4]") + "}", "1234"),
       "size mismatch"},
      {"offsets_past_end", framed("{" + entry("a", "F32", "[1]", "[10,99999999]") + "}", "1234"),
       "run past the end of the data (4 bytes)"},
      {"begin_after_end", framed("{" + entry("a", "F32", "[1]", "[4,0]") + "}", "1234"),
       "begin > end"},
      {"offsets_not_pair", framed("{" + entry("a", "F32", "[1]", "[0]") + "}", "1234"),
       "not a pair of non-negative integers"},
      {"negative_offset", framed("{" + entry("a", "U8", "[1]", "[-1,0]") + "}", "1"),
       "not a pair of non-negative integers"},
      {"overlapping",
       framed("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[4,12]") +
                  "}",
              std::string(12, 'x')),
       "overlaps tensor 'a'"},
      {"gap",
       framed("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") +
                  "}",
              std::string(12, 'x')),
       "belong to no tensor (gap before 'b')"},
      {"trailing", framed("{" + entry("a", "F32", "[1]", "[0,4]") + "}", std::string(9, 'x')),
       "trailing"},
      {"duplicate_names",
       framed("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("a", "F32", "[1]", "[0,4]") +
                  "}",
              "1234"),
       "duplicate key 'a'"},
      {"metadata_not_strings", framed(R"({"__metadata__":{"k":1}})"), "__metadata__"},
      {"metadata_not_object", framed(R"({"__metadata__":[]})"), "__metadata__"},
  };
  for (const Hostile &c : cases) {
    const std::string path = file(std::string(c.name) + ".safetensors");
    write_bytes(path, c.bytes);
    const std::string msg = error_of([&] { SafetensorsFile::open(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << c.name << ": " << msg;
    EXPECT_NE(msg.find(c.keyword), std::string::npos) << c.name << ": " << msg;
  }
}

TEST_F(SafetensorsTest, HeaderAboveSizeLimitIsRefusedWithoutReadingIt) {
  // A sparse file: large enough to hold the claimed header, but costs no disk space.
  const std::string path = file("huge_header.safetensors");
  write_bytes(path, u64_le(100'000'001));
  ASSERT_EQ(truncate(path.c_str(), 100'000'016), 0);
  const std::string msg = error_of([&] { SafetensorsFile::open(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("exceeds the limit"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, MissingPathAndDirectoryAreErrors) {
  const std::string missing = file("does_not_exist.safetensors");
  std::string msg = error_of([&] { SafetensorsFile::open(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;

  msg = error_of([&] { SafetensorsFile::open(dir_); });
  EXPECT_NE(msg.find(dir_), std::string::npos) << msg;
  EXPECT_NE(msg.find("is a directory"), std::string::npos) << msg;
}

} // namespace
} // namespace sam3
