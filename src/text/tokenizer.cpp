#include "text/tokenizer.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace sam3 {

namespace {

// ---------------------------------------------------------------------------------------
// Unicode data.
//
// The reference splits with the `regex` module's \p{L} / \p{N} and lower-cases with
// Python's str.lower(). The tables below are derived from Unicode 14.0 (Python 3.11's
// unicodedata): kLetters / kNumbers are the code points of General_Category L* / N*, with
// unassigned code points inside a run folded into it (they never occur in real text, and
// folding halves the table); kLowerRuns are Python's single-code-point lower-case
// mappings as runs (stride 2 for the alternating upper/lower blocks); U+0130 -> "i\u0307"
// and final sigma are handled in to_lower(). Not covered: characters assigned after
// Unicode 14, and the rarer Case_Ignorable characters around a final sigma (see
// is_case_ignorable()).
// ---------------------------------------------------------------------------------------

struct CodeRange {
  char32_t first, last;
};

struct DeltaRun {
  char32_t first, last;
  int32_t delta;
  uint32_t stride;
};

struct NamedEntity {
  const char *name;
  char32_t code;
  bool legacy; // also recognised without the trailing ';' (HTML5 legacy entities)
};

struct CharrefFix {
  uint32_t from;
  char32_t to;
};

constexpr CodeRange kLetters[] = {
    {0x0041, 0x005A},   {0x0061, 0x007A},   {0x00AA, 0x00AA},   {0x00B5, 0x00B5},
    {0x00BA, 0x00BA},   {0x00C0, 0x00D6},   {0x00D8, 0x00F6},   {0x00F8, 0x02C1},
    {0x02C6, 0x02D1},   {0x02E0, 0x02E4},   {0x02EC, 0x02EC},   {0x02EE, 0x02EE},
    {0x0370, 0x0374},   {0x0376, 0x037D},   {0x037F, 0x037F},   {0x0386, 0x0386},
    {0x0388, 0x03F5},   {0x03F7, 0x0481},   {0x048A, 0x0559},   {0x0560, 0x0588},
    {0x05D0, 0x05F2},   {0x0620, 0x064A},   {0x066E, 0x066F},   {0x0671, 0x06D3},
    {0x06D5, 0x06D5},   {0x06E5, 0x06E6},   {0x06EE, 0x06EF},   {0x06FA, 0x06FC},
    {0x06FF, 0x06FF},   {0x0710, 0x0710},   {0x0712, 0x072F},   {0x074D, 0x07A5},
    {0x07B1, 0x07B1},   {0x07CA, 0x07EA},   {0x07F4, 0x07F5},   {0x07FA, 0x07FA},
    {0x0800, 0x0815},   {0x081A, 0x081A},   {0x0824, 0x0824},   {0x0828, 0x0828},
    {0x0840, 0x0858},   {0x0860, 0x0887},   {0x0889, 0x088E},   {0x08A0, 0x08C9},
    {0x0904, 0x0939},   {0x093D, 0x093D},   {0x0950, 0x0950},   {0x0958, 0x0961},
    {0x0971, 0x0980},   {0x0985, 0x09B9},   {0x09BD, 0x09BD},   {0x09CE, 0x09CE},
    {0x09DC, 0x09E1},   {0x09F0, 0x09F1},   {0x09FC, 0x09FC},   {0x0A05, 0x0A39},
    {0x0A59, 0x0A5E},   {0x0A72, 0x0A74},   {0x0A85, 0x0AB9},   {0x0ABD, 0x0ABD},
    {0x0AD0, 0x0AE1},   {0x0AF9, 0x0AF9},   {0x0B05, 0x0B39},   {0x0B3D, 0x0B3D},
    {0x0B5C, 0x0B61},   {0x0B71, 0x0B71},   {0x0B83, 0x0BB9},   {0x0BD0, 0x0BD0},
    {0x0C05, 0x0C39},   {0x0C3D, 0x0C3D},   {0x0C58, 0x0C61},   {0x0C80, 0x0C80},
    {0x0C85, 0x0CB9},   {0x0CBD, 0x0CBD},   {0x0CDD, 0x0CE1},   {0x0CF1, 0x0CF2},
    {0x0D04, 0x0D3A},   {0x0D3D, 0x0D3D},   {0x0D4E, 0x0D4E},   {0x0D54, 0x0D56},
    {0x0D5F, 0x0D61},   {0x0D7A, 0x0D7F},   {0x0D85, 0x0DC6},   {0x0E01, 0x0E30},
    {0x0E32, 0x0E33},   {0x0E40, 0x0E46},   {0x0E81, 0x0EB0},   {0x0EB2, 0x0EB3},
    {0x0EBD, 0x0EC6},   {0x0EDC, 0x0F00},   {0x0F40, 0x0F6C},   {0x0F88, 0x0F8C},
    {0x1000, 0x102A},   {0x103F, 0x103F},   {0x1050, 0x1055},   {0x105A, 0x105D},
    {0x1061, 0x1061},   {0x1065, 0x1066},   {0x106E, 0x1070},   {0x1075, 0x1081},
    {0x108E, 0x108E},   {0x10A0, 0x10FA},   {0x10FC, 0x135A},   {0x1380, 0x138F},
    {0x13A0, 0x13FD},   {0x1401, 0x166C},   {0x166F, 0x167F},   {0x1681, 0x169A},
    {0x16A0, 0x16EA},   {0x16F1, 0x1711},   {0x171F, 0x1731},   {0x1740, 0x1751},
    {0x1760, 0x1770},   {0x1780, 0x17B3},   {0x17D7, 0x17D7},   {0x17DC, 0x17DC},
    {0x1820, 0x1884},   {0x1887, 0x18A8},   {0x18AA, 0x191E},   {0x1950, 0x19C9},
    {0x1A00, 0x1A16},   {0x1A20, 0x1A54},   {0x1AA7, 0x1AA7},   {0x1B05, 0x1B33},
    {0x1B45, 0x1B4C},   {0x1B83, 0x1BA0},   {0x1BAE, 0x1BAF},   {0x1BBA, 0x1BE5},
    {0x1C00, 0x1C23},   {0x1C4D, 0x1C4F},   {0x1C5A, 0x1C7D},   {0x1C80, 0x1CBF},
    {0x1CE9, 0x1CEC},   {0x1CEE, 0x1CF3},   {0x1CF5, 0x1CF6},   {0x1CFA, 0x1DBF},
    {0x1E00, 0x1FBC},   {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FCC},   {0x1FD0, 0x1FDB},
    {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FFC},   {0x2071, 0x2071},   {0x207F, 0x207F},
    {0x2090, 0x209C},   {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},
    {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
    {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2CE4},
    {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0x2D00, 0x2D6F},   {0x2D80, 0x2DDE},
    {0x2E2F, 0x2E2F},   {0x3005, 0x3006},   {0x3031, 0x3035},   {0x303B, 0x303C},
    {0x3041, 0x3096},   {0x309D, 0x309F},   {0x30A1, 0x30FA},   {0x30FC, 0x318E},
    {0x31A0, 0x31BF},   {0x31F0, 0x31FF},   {0x3400, 0x4DBF},   {0x4E00, 0xA48C},
    {0xA4D0, 0xA4FD},   {0xA500, 0xA60C},   {0xA610, 0xA61F},   {0xA62A, 0xA66E},
    {0xA67F, 0xA69D},   {0xA6A0, 0xA6E5},   {0xA717, 0xA71F},   {0xA722, 0xA788},
    {0xA78B, 0xA801},   {0xA803, 0xA805},   {0xA807, 0xA80A},   {0xA80C, 0xA822},
    {0xA840, 0xA873},   {0xA882, 0xA8B3},   {0xA8F2, 0xA8F7},   {0xA8FB, 0xA8FB},
    {0xA8FD, 0xA8FE},   {0xA90A, 0xA925},   {0xA930, 0xA946},   {0xA960, 0xA97C},
    {0xA984, 0xA9B2},   {0xA9CF, 0xA9CF},   {0xA9E0, 0xA9E4},   {0xA9E6, 0xA9EF},
    {0xA9FA, 0xAA28},   {0xAA40, 0xAA42},   {0xAA44, 0xAA4B},   {0xAA60, 0xAA76},
    {0xAA7A, 0xAA7A},   {0xAA7E, 0xAAAF},   {0xAAB1, 0xAAB1},   {0xAAB5, 0xAAB6},
    {0xAAB9, 0xAABD},   {0xAAC0, 0xAAC0},   {0xAAC2, 0xAADD},   {0xAAE0, 0xAAEA},
    {0xAAF2, 0xAAF4},   {0xAB01, 0xAB5A},   {0xAB5C, 0xAB69},   {0xAB70, 0xABE2},
    {0xAC00, 0xD7FB},   {0xF900, 0xFB1D},   {0xFB1F, 0xFB28},   {0xFB2A, 0xFBB1},
    {0xFBD3, 0xFD3D},   {0xFD50, 0xFDC7},   {0xFDF0, 0xFDFB},   {0xFE70, 0xFEFC},
    {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0xFF66, 0xFFDC},   {0x10000, 0x100FA},
    {0x10280, 0x102D0}, {0x10300, 0x1031F}, {0x1032D, 0x10340}, {0x10342, 0x10349},
    {0x10350, 0x10375}, {0x10380, 0x1039D}, {0x103A0, 0x103CF}, {0x10400, 0x1049D},
    {0x104B0, 0x10563}, {0x10570, 0x10855}, {0x10860, 0x10876}, {0x10880, 0x1089E},
    {0x108E0, 0x108F5}, {0x10900, 0x10915}, {0x10920, 0x10939}, {0x10980, 0x109B7},
    {0x109BE, 0x109BF}, {0x10A00, 0x10A00}, {0x10A10, 0x10A35}, {0x10A60, 0x10A7C},
    {0x10A80, 0x10A9C}, {0x10AC0, 0x10AC7}, {0x10AC9, 0x10AE4}, {0x10B00, 0x10B35},
    {0x10B40, 0x10B55}, {0x10B60, 0x10B72}, {0x10B80, 0x10B91}, {0x10C00, 0x10CF2},
    {0x10D00, 0x10D23}, {0x10E80, 0x10EA9}, {0x10EB0, 0x10F1C}, {0x10F27, 0x10F45},
    {0x10F70, 0x10F81}, {0x10FB0, 0x10FC4}, {0x10FE0, 0x10FF6}, {0x11003, 0x11037},
    {0x11071, 0x11072}, {0x11075, 0x11075}, {0x11083, 0x110AF}, {0x110D0, 0x110E8},
    {0x11103, 0x11126}, {0x11144, 0x11144}, {0x11147, 0x11172}, {0x11176, 0x11176},
    {0x11183, 0x111B2}, {0x111C1, 0x111C4}, {0x111DA, 0x111DA}, {0x111DC, 0x111DC},
    {0x11200, 0x1122B}, {0x11280, 0x112A8}, {0x112B0, 0x112DE}, {0x11305, 0x11339},
    {0x1133D, 0x1133D}, {0x11350, 0x11350}, {0x1135D, 0x11361}, {0x11400, 0x11434},
    {0x11447, 0x1144A}, {0x1145F, 0x114AF}, {0x114C4, 0x114C5}, {0x114C7, 0x114C7},
    {0x11580, 0x115AE}, {0x115D8, 0x115DB}, {0x11600, 0x1162F}, {0x11644, 0x11644},
    {0x11680, 0x116AA}, {0x116B8, 0x116B8}, {0x11700, 0x1171A}, {0x11740, 0x1182B},
    {0x118A0, 0x118DF}, {0x118FF, 0x1192F}, {0x1193F, 0x1193F}, {0x11941, 0x11941},
    {0x119A0, 0x119D0}, {0x119E1, 0x119E1}, {0x119E3, 0x119E3}, {0x11A00, 0x11A00},
    {0x11A0B, 0x11A32}, {0x11A3A, 0x11A3A}, {0x11A50, 0x11A50}, {0x11A5C, 0x11A89},
    {0x11A9D, 0x11A9D}, {0x11AB0, 0x11C2E}, {0x11C40, 0x11C40}, {0x11C72, 0x11C8F},
    {0x11D00, 0x11D30}, {0x11D46, 0x11D46}, {0x11D60, 0x11D89}, {0x11D98, 0x11D98},
    {0x11EE0, 0x11EF2}, {0x11FB0, 0x11FB0}, {0x12000, 0x12399}, {0x12480, 0x12FF0},
    {0x13000, 0x1342E}, {0x14400, 0x16A5E}, {0x16A70, 0x16ABE}, {0x16AD0, 0x16AED},
    {0x16B00, 0x16B2F}, {0x16B40, 0x16B43}, {0x16B63, 0x16E7F}, {0x16F00, 0x16F4A},
    {0x16F50, 0x16F50}, {0x16F93, 0x16FE1}, {0x16FE3, 0x16FE3}, {0x17000, 0x1BC99},
    {0x1D400, 0x1D6C0}, {0x1D6C2, 0x1D6DA}, {0x1D6DC, 0x1D6FA}, {0x1D6FC, 0x1D714},
    {0x1D716, 0x1D734}, {0x1D736, 0x1D74E}, {0x1D750, 0x1D76E}, {0x1D770, 0x1D788},
    {0x1D78A, 0x1D7A8}, {0x1D7AA, 0x1D7C2}, {0x1D7C4, 0x1D7CB}, {0x1DF00, 0x1DF1E},
    {0x1E100, 0x1E12C}, {0x1E137, 0x1E13D}, {0x1E14E, 0x1E14E}, {0x1E290, 0x1E2AD},
    {0x1E2C0, 0x1E2EB}, {0x1E7E0, 0x1E8C4}, {0x1E900, 0x1E943}, {0x1E94B, 0x1E94B},
    {0x1EE00, 0x1EEBB}, {0x20000, 0x3134A}};
constexpr CodeRange kNumbers[] = {
    {0x0030, 0x0039},   {0x00B2, 0x00B3},   {0x00B9, 0x00B9},   {0x00BC, 0x00BE},
    {0x0660, 0x0669},   {0x06F0, 0x06F9},   {0x07C0, 0x07C9},   {0x0966, 0x096F},
    {0x09E6, 0x09EF},   {0x09F4, 0x09F9},   {0x0A66, 0x0A6F},   {0x0AE6, 0x0AEF},
    {0x0B66, 0x0B6F},   {0x0B72, 0x0B77},   {0x0BE6, 0x0BF2},   {0x0C66, 0x0C6F},
    {0x0C78, 0x0C7E},   {0x0CE6, 0x0CEF},   {0x0D58, 0x0D5E},   {0x0D66, 0x0D78},
    {0x0DE6, 0x0DEF},   {0x0E50, 0x0E59},   {0x0ED0, 0x0ED9},   {0x0F20, 0x0F33},
    {0x1040, 0x1049},   {0x1090, 0x1099},   {0x1369, 0x137C},   {0x16EE, 0x16F0},
    {0x17E0, 0x17F9},   {0x1810, 0x1819},   {0x1946, 0x194F},   {0x19D0, 0x19DA},
    {0x1A80, 0x1A99},   {0x1B50, 0x1B59},   {0x1BB0, 0x1BB9},   {0x1C40, 0x1C49},
    {0x1C50, 0x1C59},   {0x2070, 0x2070},   {0x2074, 0x2079},   {0x2080, 0x2089},
    {0x2150, 0x2182},   {0x2185, 0x2189},   {0x2460, 0x249B},   {0x24EA, 0x24FF},
    {0x2776, 0x2793},   {0x2CFD, 0x2CFD},   {0x3007, 0x3007},   {0x3021, 0x3029},
    {0x3038, 0x303A},   {0x3192, 0x3195},   {0x3220, 0x3229},   {0x3248, 0x324F},
    {0x3251, 0x325F},   {0x3280, 0x3289},   {0x32B1, 0x32BF},   {0xA620, 0xA629},
    {0xA6E6, 0xA6EF},   {0xA830, 0xA835},   {0xA8D0, 0xA8D9},   {0xA900, 0xA909},
    {0xA9D0, 0xA9D9},   {0xA9F0, 0xA9F9},   {0xAA50, 0xAA59},   {0xABF0, 0xABF9},
    {0xFF10, 0xFF19},   {0x10107, 0x10133}, {0x10140, 0x10178}, {0x1018A, 0x1018B},
    {0x102E1, 0x102FB}, {0x10320, 0x10323}, {0x10341, 0x10341}, {0x1034A, 0x1034A},
    {0x103D1, 0x103D5}, {0x104A0, 0x104A9}, {0x10858, 0x1085F}, {0x10879, 0x1087F},
    {0x108A7, 0x108AF}, {0x108FB, 0x108FF}, {0x10916, 0x1091B}, {0x109BC, 0x109BD},
    {0x109C0, 0x109FF}, {0x10A40, 0x10A48}, {0x10A7D, 0x10A7E}, {0x10A9D, 0x10A9F},
    {0x10AEB, 0x10AEF}, {0x10B58, 0x10B5F}, {0x10B78, 0x10B7F}, {0x10BA9, 0x10BAF},
    {0x10CFA, 0x10CFF}, {0x10D30, 0x10E7E}, {0x10F1D, 0x10F26}, {0x10F51, 0x10F54},
    {0x10FC5, 0x10FCB}, {0x11052, 0x1106F}, {0x110F0, 0x110F9}, {0x11136, 0x1113F},
    {0x111D0, 0x111D9}, {0x111E1, 0x111F4}, {0x112F0, 0x112F9}, {0x11450, 0x11459},
    {0x114D0, 0x114D9}, {0x11650, 0x11659}, {0x116C0, 0x116C9}, {0x11730, 0x1173B},
    {0x118E0, 0x118F2}, {0x11950, 0x11959}, {0x11C50, 0x11C6C}, {0x11D50, 0x11D59},
    {0x11DA0, 0x11DA9}, {0x11FC0, 0x11FD4}, {0x12400, 0x1246E}, {0x16A60, 0x16A69},
    {0x16AC0, 0x16AC9}, {0x16B50, 0x16B61}, {0x16E80, 0x16E96}, {0x1D2E0, 0x1D2F3},
    {0x1D360, 0x1D378}, {0x1D7CE, 0x1D7FF}, {0x1E140, 0x1E149}, {0x1E2F0, 0x1E2F9},
    {0x1E8C7, 0x1E8CF}, {0x1E950, 0x1E959}, {0x1EC71, 0x1ECAB}, {0x1ECAD, 0x1ECAF},
    {0x1ECB1, 0x1ED2D}, {0x1ED2F, 0x1ED3D}, {0x1F100, 0x1F10C}, {0x1FBF0, 0x1FBF9}};
// Unicode "Cased" (Lu, Ll, Lt, Other_Lowercase, Other_Uppercase), for the final-sigma rule.
constexpr CodeRange kCased[] = {
    {0x0041, 0x005A},   {0x0061, 0x007A},   {0x00AA, 0x00AA},   {0x00B5, 0x00B5},
    {0x00BA, 0x00BA},   {0x00C0, 0x00D6},   {0x00D8, 0x00F6},   {0x00F8, 0x01BA},
    {0x01BC, 0x01BF},   {0x01C4, 0x0293},   {0x0295, 0x02AF},   {0x0370, 0x0373},
    {0x0376, 0x0377},   {0x037B, 0x037D},   {0x037F, 0x037F},   {0x0386, 0x0386},
    {0x0388, 0x03F5},   {0x03F7, 0x0481},   {0x048A, 0x0556},   {0x0560, 0x0588},
    {0x10A0, 0x10FA},   {0x10FD, 0x10FF},   {0x13A0, 0x13FD},   {0x1C80, 0x1CBF},
    {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},   {0x1D79, 0x1D9A},   {0x1E00, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FCC},   {0x1FD0, 0x1FDB},   {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FFC},   {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},
    {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
    {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},
    {0x213C, 0x213F},   {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2160, 0x217F},
    {0x2183, 0x2184},   {0x24B6, 0x24E9},   {0x2C00, 0x2C7B},   {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0x2D00, 0x2D2D},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xA790, 0xA7D9},   {0xA7F5, 0xA7F6},   {0xA7FA, 0xA7FA},   {0xAB30, 0xAB5A},
    {0xAB60, 0xAB68},   {0xAB70, 0xABBF},   {0xFB00, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104FB}, {0x10570, 0x105BC},
    {0x10C80, 0x10CF2}, {0x118A0, 0x118DF}, {0x16E40, 0x16E7F}, {0x1D400, 0x1D6C0},
    {0x1D6C2, 0x1D6DA}, {0x1D6DC, 0x1D6FA}, {0x1D6FC, 0x1D714}, {0x1D716, 0x1D734},
    {0x1D736, 0x1D74E}, {0x1D750, 0x1D76E}, {0x1D770, 0x1D788}, {0x1D78A, 0x1D7A8},
    {0x1D7AA, 0x1D7C2}, {0x1D7C4, 0x1D7CB}, {0x1DF00, 0x1DF09}, {0x1DF0B, 0x1DF1E},
    {0x1E900, 0x1E943}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189}};
constexpr DeltaRun kLowerRuns[] = {
    {0x0041, 0x005A, 32, 1},     {0x00C0, 0x00D6, 32, 1},     {0x00D8, 0x00DE, 32, 1},
    {0x0100, 0x012E, 1, 2},      {0x0132, 0x0136, 1, 2},      {0x0139, 0x0147, 1, 2},
    {0x014A, 0x0176, 1, 2},      {0x0178, 0x0178, -121, 1},   {0x0179, 0x017D, 1, 2},
    {0x0181, 0x0181, 210, 1},    {0x0182, 0x0184, 1, 2},      {0x0186, 0x0186, 206, 1},
    {0x0187, 0x0187, 1, 1},      {0x0189, 0x018A, 205, 1},    {0x018B, 0x018B, 1, 1},
    {0x018E, 0x018E, 79, 1},     {0x018F, 0x018F, 202, 1},    {0x0190, 0x0190, 203, 1},
    {0x0191, 0x0191, 1, 1},      {0x0193, 0x0193, 205, 1},    {0x0194, 0x0194, 207, 1},
    {0x0196, 0x0196, 211, 1},    {0x0197, 0x0197, 209, 1},    {0x0198, 0x0198, 1, 1},
    {0x019C, 0x019C, 211, 1},    {0x019D, 0x019D, 213, 1},    {0x019F, 0x019F, 214, 1},
    {0x01A0, 0x01A4, 1, 2},      {0x01A6, 0x01A6, 218, 1},    {0x01A7, 0x01A7, 1, 1},
    {0x01A9, 0x01A9, 218, 1},    {0x01AC, 0x01AC, 1, 1},      {0x01AE, 0x01AE, 218, 1},
    {0x01AF, 0x01AF, 1, 1},      {0x01B1, 0x01B2, 217, 1},    {0x01B3, 0x01B5, 1, 2},
    {0x01B7, 0x01B7, 219, 1},    {0x01B8, 0x01B8, 1, 1},      {0x01BC, 0x01BC, 1, 1},
    {0x01C4, 0x01C4, 2, 1},      {0x01C5, 0x01C5, 1, 1},      {0x01C7, 0x01C7, 2, 1},
    {0x01C8, 0x01C8, 1, 1},      {0x01CA, 0x01CA, 2, 1},      {0x01CB, 0x01DB, 1, 2},
    {0x01DE, 0x01EE, 1, 2},      {0x01F1, 0x01F1, 2, 1},      {0x01F2, 0x01F4, 1, 2},
    {0x01F6, 0x01F6, -97, 1},    {0x01F7, 0x01F7, -56, 1},    {0x01F8, 0x021E, 1, 2},
    {0x0220, 0x0220, -130, 1},   {0x0222, 0x0232, 1, 2},      {0x023A, 0x023A, 10795, 1},
    {0x023B, 0x023B, 1, 1},      {0x023D, 0x023D, -163, 1},   {0x023E, 0x023E, 10792, 1},
    {0x0241, 0x0241, 1, 1},      {0x0243, 0x0243, -195, 1},   {0x0244, 0x0244, 69, 1},
    {0x0245, 0x0245, 71, 1},     {0x0246, 0x024E, 1, 2},      {0x0370, 0x0372, 1, 2},
    {0x0376, 0x0376, 1, 1},      {0x037F, 0x037F, 116, 1},    {0x0386, 0x0386, 38, 1},
    {0x0388, 0x038A, 37, 1},     {0x038C, 0x038C, 64, 1},     {0x038E, 0x038F, 63, 1},
    {0x0391, 0x03A1, 32, 1},     {0x03A3, 0x03AB, 32, 1},     {0x03CF, 0x03CF, 8, 1},
    {0x03D8, 0x03EE, 1, 2},      {0x03F4, 0x03F4, -60, 1},    {0x03F7, 0x03F7, 1, 1},
    {0x03F9, 0x03F9, -7, 1},     {0x03FA, 0x03FA, 1, 1},      {0x03FD, 0x03FF, -130, 1},
    {0x0400, 0x040F, 80, 1},     {0x0410, 0x042F, 32, 1},     {0x0460, 0x0480, 1, 2},
    {0x048A, 0x04BE, 1, 2},      {0x04C0, 0x04C0, 15, 1},     {0x04C1, 0x04CD, 1, 2},
    {0x04D0, 0x052E, 1, 2},      {0x0531, 0x0556, 48, 1},     {0x10A0, 0x10C5, 7264, 1},
    {0x10C7, 0x10C7, 7264, 1},   {0x10CD, 0x10CD, 7264, 1},   {0x13A0, 0x13EF, 38864, 1},
    {0x13F0, 0x13F5, 8, 1},      {0x1C90, 0x1CBA, -3008, 1},  {0x1CBD, 0x1CBF, -3008, 1},
    {0x1E00, 0x1E94, 1, 2},      {0x1E9E, 0x1E9E, -7615, 1},  {0x1EA0, 0x1EFE, 1, 2},
    {0x1F08, 0x1F0F, -8, 1},     {0x1F18, 0x1F1D, -8, 1},     {0x1F28, 0x1F2F, -8, 1},
    {0x1F38, 0x1F3F, -8, 1},     {0x1F48, 0x1F4D, -8, 1},     {0x1F59, 0x1F5F, -8, 2},
    {0x1F68, 0x1F6F, -8, 1},     {0x1F88, 0x1F8F, -8, 1},     {0x1F98, 0x1F9F, -8, 1},
    {0x1FA8, 0x1FAF, -8, 1},     {0x1FB8, 0x1FB9, -8, 1},     {0x1FBA, 0x1FBB, -74, 1},
    {0x1FBC, 0x1FBC, -9, 1},     {0x1FC8, 0x1FCB, -86, 1},    {0x1FCC, 0x1FCC, -9, 1},
    {0x1FD8, 0x1FD9, -8, 1},     {0x1FDA, 0x1FDB, -100, 1},   {0x1FE8, 0x1FE9, -8, 1},
    {0x1FEA, 0x1FEB, -112, 1},   {0x1FEC, 0x1FEC, -7, 1},     {0x1FF8, 0x1FF9, -128, 1},
    {0x1FFA, 0x1FFB, -126, 1},   {0x1FFC, 0x1FFC, -9, 1},     {0x2126, 0x2126, -7517, 1},
    {0x212A, 0x212A, -8383, 1},  {0x212B, 0x212B, -8262, 1},  {0x2132, 0x2132, 28, 1},
    {0x2160, 0x216F, 16, 1},     {0x2183, 0x2183, 1, 1},      {0x24B6, 0x24CF, 26, 1},
    {0x2C00, 0x2C2F, 48, 1},     {0x2C60, 0x2C60, 1, 1},      {0x2C62, 0x2C62, -10743, 1},
    {0x2C63, 0x2C63, -3814, 1},  {0x2C64, 0x2C64, -10727, 1}, {0x2C67, 0x2C6B, 1, 2},
    {0x2C6D, 0x2C6D, -10780, 1}, {0x2C6E, 0x2C6E, -10749, 1}, {0x2C6F, 0x2C6F, -10783, 1},
    {0x2C70, 0x2C70, -10782, 1}, {0x2C72, 0x2C72, 1, 1},      {0x2C75, 0x2C75, 1, 1},
    {0x2C7E, 0x2C7F, -10815, 1}, {0x2C80, 0x2CE2, 1, 2},      {0x2CEB, 0x2CED, 1, 2},
    {0x2CF2, 0x2CF2, 1, 1},      {0xA640, 0xA66C, 1, 2},      {0xA680, 0xA69A, 1, 2},
    {0xA722, 0xA72E, 1, 2},      {0xA732, 0xA76E, 1, 2},      {0xA779, 0xA77B, 1, 2},
    {0xA77D, 0xA77D, -35332, 1}, {0xA77E, 0xA786, 1, 2},      {0xA78B, 0xA78B, 1, 1},
    {0xA78D, 0xA78D, -42280, 1}, {0xA790, 0xA792, 1, 2},      {0xA796, 0xA7A8, 1, 2},
    {0xA7AA, 0xA7AA, -42308, 1}, {0xA7AB, 0xA7AB, -42319, 1}, {0xA7AC, 0xA7AC, -42315, 1},
    {0xA7AD, 0xA7AD, -42305, 1}, {0xA7AE, 0xA7AE, -42308, 1}, {0xA7B0, 0xA7B0, -42258, 1},
    {0xA7B1, 0xA7B1, -42282, 1}, {0xA7B2, 0xA7B2, -42261, 1}, {0xA7B3, 0xA7B3, 928, 1},
    {0xA7B4, 0xA7C2, 1, 2},      {0xA7C4, 0xA7C4, -48, 1},    {0xA7C5, 0xA7C5, -42307, 1},
    {0xA7C6, 0xA7C6, -35384, 1}, {0xA7C7, 0xA7C9, 1, 2},      {0xA7D0, 0xA7D0, 1, 1},
    {0xA7D6, 0xA7D8, 1, 2},      {0xA7F5, 0xA7F5, 1, 1},      {0xFF21, 0xFF3A, 32, 1},
    {0x10400, 0x10427, 40, 1},   {0x104B0, 0x104D3, 40, 1},   {0x10570, 0x1057A, 39, 1},
    {0x1057C, 0x1058A, 39, 1},   {0x1058C, 0x10592, 39, 1},   {0x10594, 0x10595, 39, 1},
    {0x10C80, 0x10CB2, 64, 1},   {0x118A0, 0x118BF, 32, 1},   {0x16E40, 0x16E5F, 32, 1},
    {0x1E900, 0x1E921, 34, 1}};
constexpr NamedEntity kEntities[] = {
    {"AElig", 0x00C6, true},    {"AMP", 0x0026, true},      {"Aacute", 0x00C1, true},
    {"Acirc", 0x00C2, true},    {"Agrave", 0x00C0, true},   {"Alpha", 0x0391, false},
    {"Aring", 0x00C5, true},    {"Atilde", 0x00C3, true},   {"Auml", 0x00C4, true},
    {"Beta", 0x0392, false},    {"COPY", 0x00A9, true},     {"Ccedil", 0x00C7, true},
    {"Chi", 0x03A7, false},     {"Dagger", 0x2021, false},  {"Delta", 0x0394, false},
    {"ETH", 0x00D0, true},      {"Eacute", 0x00C9, true},   {"Ecirc", 0x00CA, true},
    {"Egrave", 0x00C8, true},   {"Epsilon", 0x0395, false}, {"Eta", 0x0397, false},
    {"Euml", 0x00CB, true},     {"GT", 0x003E, true},       {"Gamma", 0x0393, false},
    {"Iacute", 0x00CD, true},   {"Icirc", 0x00CE, true},    {"Igrave", 0x00CC, true},
    {"Iota", 0x0399, false},    {"Iuml", 0x00CF, true},     {"Kappa", 0x039A, false},
    {"LT", 0x003C, true},       {"Lambda", 0x039B, false},  {"Mu", 0x039C, false},
    {"Ntilde", 0x00D1, true},   {"Nu", 0x039D, false},      {"OElig", 0x0152, false},
    {"Oacute", 0x00D3, true},   {"Ocirc", 0x00D4, true},    {"Ograve", 0x00D2, true},
    {"Omega", 0x03A9, false},   {"Omicron", 0x039F, false}, {"Oslash", 0x00D8, true},
    {"Otilde", 0x00D5, true},   {"Ouml", 0x00D6, true},     {"Phi", 0x03A6, false},
    {"Pi", 0x03A0, false},      {"Prime", 0x2033, false},   {"Psi", 0x03A8, false},
    {"QUOT", 0x0022, true},     {"REG", 0x00AE, true},      {"Rho", 0x03A1, false},
    {"Scaron", 0x0160, false},  {"Sigma", 0x03A3, false},   {"THORN", 0x00DE, true},
    {"Tau", 0x03A4, false},     {"Theta", 0x0398, false},   {"Uacute", 0x00DA, true},
    {"Ucirc", 0x00DB, true},    {"Ugrave", 0x00D9, true},   {"Upsilon", 0x03A5, false},
    {"Uuml", 0x00DC, true},     {"Xi", 0x039E, false},      {"Yacute", 0x00DD, true},
    {"Yuml", 0x0178, false},    {"Zeta", 0x0396, false},    {"aacute", 0x00E1, true},
    {"acirc", 0x00E2, true},    {"acute", 0x00B4, true},    {"aelig", 0x00E6, true},
    {"agrave", 0x00E0, true},   {"alefsym", 0x2135, false}, {"alpha", 0x03B1, false},
    {"amp", 0x0026, true},      {"and", 0x2227, false},     {"ang", 0x2220, false},
    {"apos", 0x0027, false},    {"aring", 0x00E5, true},    {"asymp", 0x2248, false},
    {"atilde", 0x00E3, true},   {"auml", 0x00E4, true},     {"bdquo", 0x201E, false},
    {"beta", 0x03B2, false},    {"brvbar", 0x00A6, true},   {"bull", 0x2022, false},
    {"cap", 0x2229, false},     {"ccedil", 0x00E7, true},   {"cedil", 0x00B8, true},
    {"cent", 0x00A2, true},     {"chi", 0x03C7, false},     {"circ", 0x02C6, false},
    {"clubs", 0x2663, false},   {"cong", 0x2245, false},    {"copy", 0x00A9, true},
    {"crarr", 0x21B5, false},   {"cup", 0x222A, false},     {"curren", 0x00A4, true},
    {"dArr", 0x21D3, false},    {"dagger", 0x2020, false},  {"darr", 0x2193, false},
    {"deg", 0x00B0, true},      {"delta", 0x03B4, false},   {"diams", 0x2666, false},
    {"divide", 0x00F7, true},   {"eacute", 0x00E9, true},   {"ecirc", 0x00EA, true},
    {"egrave", 0x00E8, true},   {"empty", 0x2205, false},   {"emsp", 0x2003, false},
    {"ensp", 0x2002, false},    {"epsilon", 0x03B5, false}, {"equiv", 0x2261, false},
    {"eta", 0x03B7, false},     {"eth", 0x00F0, true},      {"euml", 0x00EB, true},
    {"euro", 0x20AC, false},    {"exist", 0x2203, false},   {"fnof", 0x0192, false},
    {"forall", 0x2200, false},  {"frac12", 0x00BD, true},   {"frac14", 0x00BC, true},
    {"frac34", 0x00BE, true},   {"frasl", 0x2044, false},   {"gamma", 0x03B3, false},
    {"ge", 0x2265, false},      {"gt", 0x003E, true},       {"hArr", 0x21D4, false},
    {"harr", 0x2194, false},    {"hearts", 0x2665, false},  {"hellip", 0x2026, false},
    {"iacute", 0x00ED, true},   {"icirc", 0x00EE, true},    {"iexcl", 0x00A1, true},
    {"igrave", 0x00EC, true},   {"image", 0x2111, false},   {"infin", 0x221E, false},
    {"int", 0x222B, false},     {"iota", 0x03B9, false},    {"iquest", 0x00BF, true},
    {"isin", 0x2208, false},    {"iuml", 0x00EF, true},     {"kappa", 0x03BA, false},
    {"lArr", 0x21D0, false},    {"lambda", 0x03BB, false},  {"lang", 0x27E8, false},
    {"laquo", 0x00AB, true},    {"larr", 0x2190, false},    {"lceil", 0x2308, false},
    {"ldquo", 0x201C, false},   {"le", 0x2264, false},      {"lfloor", 0x230A, false},
    {"lowast", 0x2217, false},  {"loz", 0x25CA, false},     {"lrm", 0x200E, false},
    {"lsaquo", 0x2039, false},  {"lsquo", 0x2018, false},   {"lt", 0x003C, true},
    {"macr", 0x00AF, true},     {"mdash", 0x2014, false},   {"micro", 0x00B5, true},
    {"middot", 0x00B7, true},   {"minus", 0x2212, false},   {"mu", 0x03BC, false},
    {"nabla", 0x2207, false},   {"nbsp", 0x00A0, true},     {"ndash", 0x2013, false},
    {"ne", 0x2260, false},      {"ni", 0x220B, false},      {"not", 0x00AC, true},
    {"notin", 0x2209, false},   {"nsub", 0x2284, false},    {"ntilde", 0x00F1, true},
    {"nu", 0x03BD, false},      {"oacute", 0x00F3, true},   {"ocirc", 0x00F4, true},
    {"oelig", 0x0153, false},   {"ograve", 0x00F2, true},   {"oline", 0x203E, false},
    {"omega", 0x03C9, false},   {"omicron", 0x03BF, false}, {"oplus", 0x2295, false},
    {"or", 0x2228, false},      {"ordf", 0x00AA, true},     {"ordm", 0x00BA, true},
    {"oslash", 0x00F8, true},   {"otilde", 0x00F5, true},   {"otimes", 0x2297, false},
    {"ouml", 0x00F6, true},     {"para", 0x00B6, true},     {"part", 0x2202, false},
    {"permil", 0x2030, false},  {"perp", 0x22A5, false},    {"phi", 0x03C6, false},
    {"pi", 0x03C0, false},      {"piv", 0x03D6, false},     {"plusmn", 0x00B1, true},
    {"pound", 0x00A3, true},    {"prime", 0x2032, false},   {"prod", 0x220F, false},
    {"prop", 0x221D, false},    {"psi", 0x03C8, false},     {"quot", 0x0022, true},
    {"rArr", 0x21D2, false},    {"radic", 0x221A, false},   {"rang", 0x27E9, false},
    {"raquo", 0x00BB, true},    {"rarr", 0x2192, false},    {"rceil", 0x2309, false},
    {"rdquo", 0x201D, false},   {"real", 0x211C, false},    {"reg", 0x00AE, true},
    {"rfloor", 0x230B, false},  {"rho", 0x03C1, false},     {"rlm", 0x200F, false},
    {"rsaquo", 0x203A, false},  {"rsquo", 0x2019, false},   {"sbquo", 0x201A, false},
    {"scaron", 0x0161, false},  {"sdot", 0x22C5, false},    {"sect", 0x00A7, true},
    {"shy", 0x00AD, true},      {"sigma", 0x03C3, false},   {"sigmaf", 0x03C2, false},
    {"sim", 0x223C, false},     {"spades", 0x2660, false},  {"sub", 0x2282, false},
    {"sube", 0x2286, false},    {"sum", 0x2211, false},     {"sup", 0x2283, false},
    {"sup1", 0x00B9, true},     {"sup2", 0x00B2, true},     {"sup3", 0x00B3, true},
    {"supe", 0x2287, false},    {"szlig", 0x00DF, true},    {"tau", 0x03C4, false},
    {"there4", 0x2234, false},  {"theta", 0x03B8, false},   {"thetasym", 0x03D1, false},
    {"thinsp", 0x2009, false},  {"thorn", 0x00FE, true},    {"tilde", 0x02DC, false},
    {"times", 0x00D7, true},    {"trade", 0x2122, false},   {"uArr", 0x21D1, false},
    {"uacute", 0x00FA, true},   {"uarr", 0x2191, false},    {"ucirc", 0x00FB, true},
    {"ugrave", 0x00F9, true},   {"uml", 0x00A8, true},      {"upsih", 0x03D2, false},
    {"upsilon", 0x03C5, false}, {"uuml", 0x00FC, true},     {"weierp", 0x2118, false},
    {"xi", 0x03BE, false},      {"yacute", 0x00FD, true},   {"yen", 0x00A5, true},
    {"yuml", 0x00FF, true},     {"zeta", 0x03B6, false},    {"zwj", 0x200D, false},
    {"zwnj", 0x200C, false}};
constexpr CharrefFix kCp1252[] = {
    {0x00, 0xFFFD}, {0x0D, 0x000D}, {0x80, 0x20AC}, {0x81, 0x0081}, {0x82, 0x201A}, {0x83, 0x0192},
    {0x84, 0x201E}, {0x85, 0x2026}, {0x86, 0x2020}, {0x87, 0x2021}, {0x88, 0x02C6}, {0x89, 0x2030},
    {0x8A, 0x0160}, {0x8B, 0x2039}, {0x8C, 0x0152}, {0x8D, 0x008D}, {0x8E, 0x017D}, {0x8F, 0x008F},
    {0x90, 0x0090}, {0x91, 0x2018}, {0x92, 0x2019}, {0x93, 0x201C}, {0x94, 0x201D}, {0x95, 0x2022},
    {0x96, 0x2013}, {0x97, 0x2014}, {0x98, 0x02DC}, {0x99, 0x2122}, {0x9A, 0x0161}, {0x9B, 0x203A},
    {0x9C, 0x0153}, {0x9D, 0x009D}, {0x9E, 0x017E}, {0x9F, 0x0178}};

// ftfy.fix_character_width: fullwidth ASCII and symbols to their usual forms (halfwidth
// katakana/hangul and U+FFE3, which NFKC turns into two characters, are not covered).
constexpr DeltaRun kWidthRuns[] = {
    {0xFF01, 0xFF5E, -65248, 1}, {0xFF5F, 0xFF60, -54746, 1}, {0xFFE0, 0xFFE1, -65342, 1},
    {0xFFE2, 0xFFE2, -65334, 1}, {0xFFE4, 0xFFE4, -65342, 1}, {0xFFE5, 0xFFE5, -65344, 1},
    {0xFFE6, 0xFFE6, -57149, 1}, {0xFFE8, 0xFFE8, -56038, 1}, {0xFFE9, 0xFFEC, -56921, 1},
    {0xFFED, 0xFFED, -55885, 1}, {0xFFEE, 0xFFEE, -55843, 1}};

struct Expansion {
  char32_t from;
  const char32_t *to;
};

// ftfy.fix_latin_ligatures; U+0149 becomes "\u02bcn" there and the quote is then uncurled.
constexpr Expansion kLigatures[] = {
    {0x0132, U"IJ"},      {0x0133, U"ij"},      {0x0149, U"'n"}, {0x01C4, U"D\u017D"},
    {0x01C5, U"D\u017E"}, {0x01C6, U"d\u017E"}, {0x01C7, U"LJ"}, {0x01C8, U"Lj"},
    {0x01C9, U"lj"},      {0x01CA, U"NJ"},      {0x01CB, U"Nj"}, {0x01CC, U"nj"},
    {0xFB00, U"ff"},      {0xFB01, U"fi"},      {0xFB02, U"fl"}, {0xFB03, U"ffi"},
    {0xFB04, U"ffl"},     {0xFB05, U"\u017Ft"}, {0xFB06, U"st"}};

template <size_t N> bool in_ranges(const CodeRange (&table)[N], char32_t c) {
  const auto it = std::upper_bound(std::begin(table), std::end(table), c,
                                   [](char32_t v, const CodeRange &r) { return v < r.first; });
  return it != std::begin(table) && c <= std::prev(it)->last;
}

template <size_t N> char32_t map_runs(const DeltaRun (&table)[N], char32_t c) {
  const auto it = std::upper_bound(std::begin(table), std::end(table), c,
                                   [](char32_t v, const DeltaRun &r) { return v < r.first; });
  if (it == std::begin(table))
    return c;
  const DeltaRun &r = *std::prev(it);
  if (c > r.last || (c - r.first) % r.stride != 0)
    return c;
  return static_cast<char32_t>(static_cast<int64_t>(c) + r.delta);
}

bool is_letter(char32_t c) {
  if (c < 0x80)
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return in_ranges(kLetters, c);
}

bool is_number(char32_t c) {
  if (c < 0x80)
    return c >= '0' && c <= '9';
  return in_ranges(kNumbers, c);
}

// Unicode White_Space plus U+001C..U+001F, which Python's str.strip() also removes.
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// ---------------------------------------------------------------------------------------
// UTF-8. Invalid input becomes U+FFFD per maximal ill-formed subpart, which is what
// Python's decode(errors="replace") produces.
// ---------------------------------------------------------------------------------------

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    }
    int need;
    char32_t cp;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      cp = b & 0x0F;
      lo = b == 0xE0 ? 0xA0 : 0x80; // overlong
      hi = b == 0xED ? 0x9F : 0xBF; // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      cp = b & 0x07;
      lo = b == 0xF0 ? 0x90 : 0x80; // overlong
      hi = b == 0xF4 ? 0x8F : 0xBF; // > U+10FFFF
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool ok = true;
    for (int k = 0; k < need; ++k, ++j) {
      if (j >= s.size()) {
        ok = false;
        break;
      }
      const auto c = static_cast<unsigned char>(s[j]);
      if (c < lo || c > hi) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (c & 0x3F);
      lo = 0x80;
      hi = 0xBF;
    }
    out.push_back(ok ? cp : char32_t{0xFFFD});
    i = j;
  }
  return out;
}

void append_utf8(std::string &out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode_utf8(const std::u32string &s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s)
    append_utf8(out, c);
  return out;
}

bool is_valid_utf8(std::string_view s) {
  return encode_utf8(decode_utf8(s)) == s;
}

// ---------------------------------------------------------------------------------------
// HTML character references, following Python's html.unescape: numeric references with or
// without ';' (Windows-1252 fix-ups for 0x80..0x9F, U+FFFD for surrogates and out-of-range
// values, nothing for non-characters); named references from the HTML 4 set plus &apos;
// (the HTML5 list has 2,231 names; the rest stay literal), the legacy names also without
// ';' and as the longest prefix of a longer run ("&copy2024" -> "(c)2024").
// ---------------------------------------------------------------------------------------

const NamedEntity *find_entity(const std::u32string &s, size_t pos, size_t len) {
  static const std::unordered_map<std::string, const NamedEntity *> index = [] {
    std::unordered_map<std::string, const NamedEntity *> m;
    for (const auto &e : kEntities)
      m.emplace(e.name, &e);
    return m;
  }();
  std::string name;
  for (size_t k = pos; k < pos + len; ++k) {
    if (s[k] >= 0x80)
      return nullptr;
    name.push_back(static_cast<char>(s[k]));
  }
  const auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

bool is_hex_digit(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_noncharacter_ref(uint32_t n) {
  return (n >= 0x01 && n <= 0x08) || n == 0x0B || (n >= 0x0E && n <= 0x1F) ||
         (n >= 0x7F && n <= 0x9F) || (n >= 0xFDD0 && n <= 0xFDEF) || (n & 0xFFFE) == 0xFFFE;
}

void append_numeric_ref(std::u32string &out, uint32_t n) {
  for (const auto &fix : kCp1252) {
    if (fix.from == n) {
      out.push_back(fix.to);
      return;
    }
  }
  if ((n >= 0xD800 && n <= 0xDFFF) || n > 0x10FFFF) {
    out.push_back(0xFFFD);
    return;
  }
  if (!is_noncharacter_ref(n))
    out.push_back(n);
}

// Decodes the reference starting at s[pos] == '&'. Returns the number of characters
// consumed (0: not a reference, the '&' is literal).
size_t decode_charref(const std::u32string &s, size_t pos, std::u32string &out) {
  const size_t n = s.size();
  size_t i = pos + 1;
  if (i < n && s[i] == '#') {
    ++i;
    const bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
    if (hex)
      ++i;
    const size_t digits_begin = i;
    uint32_t value = 0;
    while (i < n && (hex ? is_hex_digit(s[i]) : (s[i] >= '0' && s[i] <= '9'))) {
      const char32_t c = s[i];
      const uint32_t d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
      // Saturate: anything past U+10FFFF decodes to U+FFFD whatever its exact value.
      value = static_cast<uint32_t>(
          std::min<uint64_t>(uint64_t{value} * (hex ? 16 : 10) + d, 0x110000));
      ++i;
    }
    if (i == digits_begin)
      return 0;
    if (i < n && s[i] == ';')
      ++i;
    append_numeric_ref(out, value);
    return i - pos;
  }
  const auto is_name_char = [](char32_t c) {
    return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
           c != ';';
  };
  const size_t name_begin = i;
  while (i < n && i - name_begin < 32 && is_name_char(s[i]))
    ++i;
  const size_t name_len = i - name_begin;
  if (name_len == 0)
    return 0;
  if (i < n && s[i] == ';') {
    if (const NamedEntity *e = find_entity(s, name_begin, name_len)) {
      out.push_back(e->code);
      return i + 1 - pos;
    }
  }
  // Python tries the whole run, then ever shorter prefixes (at least 2 characters); only
  // the legacy names are valid without ';'.
  for (size_t len = name_len; len >= 2; --len) {
    const NamedEntity *e = find_entity(s, name_begin, len);
    if (e && e->legacy) {
      out.push_back(e->code);
      return 1 + len;
    }
  }
  return 0;
}

std::u32string html_unescape(const std::u32string &s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '&') {
      if (const size_t used = decode_charref(s, i, out)) {
        i += used;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

// ftfy's own HTML step: only complete "&name;" / "&#...;" references (at most 24
// characters between '&' or '&#' and ';'), and only when the text holds no '<' (ftfy's
// "auto" mode, which assumes such text is real HTML).
std::u32string ftfy_unescape(const std::u32string &s) {
  if (s.find(U'<') != std::u32string::npos)
    return s;
  const auto is_alnum = [](char32_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '&') {
      size_t j = i + 1;
      if (j < s.size() && s[j] == '#')
        ++j;
      const size_t body = j;
      while (j < s.size() && j - body < 24 && is_alnum(s[j]))
        ++j;
      if (j > body && j < s.size() && s[j] == ';') {
        const size_t len = j + 1 - i;
        std::u32string decoded;
        if (decode_charref(s, i, decoded) == len) {
          out += decoded;
          i += len;
          continue;
        }
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Text cleanup = the reference's `_clean_lower`: ftfy.fix_text, html.unescape twice, strip,
// collapse whitespace, lower().
//
// Of ftfy.fix_text (default config) this ports: its HTML step, C1 controls read as
// Windows-1252, Latin ligatures, character width (see kWidthRuns), curly quotes to
// straight, and control-character removal. Not ported: mojibake repair (fix_encoding),
// terminal escapes, uppercased entity names ("&EACUTE;") and the final NFC normalisation
// (so a decomposed "e" + U+0301 stays two code points; keyboards and IMEs send the
// precomposed form).
// ---------------------------------------------------------------------------------------

std::u32string ftfy_subset(const std::u32string &text) {
  const std::u32string s = ftfy_unescape(text);
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c >= 0x80 && c <= 0x9F) {
      for (const auto &fix : kCp1252) {
        if (fix.from == c) {
          c = fix.to;
          break;
        }
      }
    }
    const auto lig = std::find_if(std::begin(kLigatures), std::end(kLigatures),
                                  [c](const Expansion &e) { return e.from == c; });
    if (lig != std::end(kLigatures)) {
      out += lig->to;
      continue;
    }
    if (c == 0x3000) {
      out.push_back(' ');
      continue;
    }
    c = map_runs(kWidthRuns, c);
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
      c = '\'';
    else if (c >= 0x201C && c <= 0x201F)
      c = '"';
    const bool control = c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
                         (c >= 0x206A && c <= 0x206F) || c == 0xFEFF ||
                         (c >= 0xFFF9 && c <= 0xFFFC);
    if (!control)
      out.push_back(c);
  }
  return out;
}

std::u32string collapse_whitespace(const std::u32string &s) {
  std::u32string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char32_t c : s) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space)
      out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool is_cased(char32_t c) {
  return in_ranges(kCased, c);
}

// Approximates Unicode's Case_Ignorable (384 ranges) with the members that occur around
// words: combining diacritics, apostrophes and word-internal punctuation, modifier
// letters/symbols of Latin-1, soft hyphen, zero-width characters and skin-tone modifiers.
bool is_case_ignorable(char32_t c) {
  return c == '\'' || c == '.' || c == ':' || c == '^' || c == '`' || c == 0xA8 || c == 0xAD ||
         c == 0xAF || c == 0xB4 || c == 0xB7 || c == 0xB8 || (c >= 0x02B0 && c <= 0x036F) ||
         c == 0x0384 || c == 0x0385 || c == 0x0387 || (c >= 0x2018 && c <= 0x2019) || c == 0x2024 ||
         c == 0x2027 || (c >= 0x200B && c <= 0x200F) || (c >= 0x1F3FB && c <= 0x1F3FF);
}

// Python's Final_Sigma: a cased letter before (skipping case-ignorables) and none after.
bool is_final_sigma(const std::u32string &s, size_t i) {
  size_t k = i;
  while (k > 0 && is_case_ignorable(s[k - 1]))
    --k;
  if (k == 0 || !is_cased(s[k - 1]))
    return false;
  k = i + 1;
  while (k < s.size() && is_case_ignorable(s[k]))
    ++k;
  return k == s.size() || !is_cased(s[k]);
}

std::u32string to_lower(const std::u32string &s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    } else if (c == 0x0130) {
      out += U"i\u0307";
    } else if (c == 0x03A3) {
      out.push_back(is_final_sigma(s, i) ? 0x03C2 : 0x03C3);
    } else {
      out.push_back(map_runs(kLowerRuns, c));
    }
  }
  return out;
}

std::u32string clean_text(const std::string &text) {
  std::u32string s = ftfy_subset(decode_utf8(text));
  s = html_unescape(html_unescape(s));
  return to_lower(collapse_whitespace(s));
}

// ---------------------------------------------------------------------------------------
// Byte-level BPE symbols: CLIP's bytes_to_unicode(). Printable Latin-1 bytes stand for
// themselves; the others are shifted to U+0100.. so that no symbol is whitespace/control.
// The vocabulary lists the bytes in this order (printable ones first), not in byte order.
// ---------------------------------------------------------------------------------------

struct ByteSymbols {
  std::array<char32_t, 256> of_byte{};
  std::array<uint8_t, 256> order{}; // order[k] = byte with vocabulary id k
  std::unordered_map<char32_t, uint8_t> to_byte;
  std::array<std::string, 256> utf8;
};

const ByteSymbols &byte_symbols() {
  static const ByteSymbols table = [] {
    ByteSymbols t;
    const auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int k = 0;
    for (int b = 0; b < 256; ++b) {
      if (printable(b)) {
        t.of_byte[b] = static_cast<char32_t>(b);
        t.order[k++] = static_cast<uint8_t>(b);
      }
    }
    int shifted = 0;
    for (int b = 0; b < 256; ++b) {
      if (!printable(b)) {
        t.of_byte[b] = static_cast<char32_t>(256 + shifted++);
        t.order[k++] = static_cast<uint8_t>(b);
      }
    }
    for (int b = 0; b < 256; ++b) {
      t.to_byte[t.of_byte[b]] = static_cast<uint8_t>(b);
      append_utf8(t.utf8[b], t.of_byte[b]);
    }
    return t;
  }();
  return table;
}

// ---------------------------------------------------------------------------------------
// Files.
// ---------------------------------------------------------------------------------------

// CLIP keeps merges 1..48894 of the 262,144 in the file so that the vocabulary is
// 49,152 - 256 (the "</w>" byte variants) + 2 specials = 49,408 symbols.
constexpr size_t kClipMergeCount = 49152 - 256 - 2;

[[noreturn]] void file_error(const std::string &path, const std::string &problem) {
  throw std::runtime_error("tokenizer file '" + path + "': " + problem);
}

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    file_error(path, "cannot be opened");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    file_error(path, "read failed");
  return ss.str();
}

std::string gunzip(const std::string &data, const std::string &path) {
  if (data.size() < 2 || static_cast<unsigned char>(data[0]) != 0x1F ||
      static_cast<unsigned char>(data[1]) != 0x8B)
    file_error(path, "is not a gzip file");
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    file_error(path, "zlib initialisation failed");
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::array<char, 1 << 16> chunk;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef *>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk.data(), chunk.size() - zs.avail_out);
    if (rc == Z_STREAM_END)
      break;
    if (rc == Z_BUF_ERROR || (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)) {
      inflateEnd(&zs);
      file_error(path, "gzip data is truncated");
    }
    if (rc != Z_OK) {
      const std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
      inflateEnd(&zs);
      file_error(path, "gzip data is corrupt (" + msg + ")");
    }
  }
  inflateEnd(&zs);
  return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

std::pair<std::string, std::string> parse_merge(std::string_view line, size_t line_number,
                                                const std::string &path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
      ++i;
    const size_t begin = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t')
      ++i;
    if (i > begin)
      parts.emplace_back(line.substr(begin, i - begin));
  }
  if (parts.size() != 2)
    file_error(path, "line " + std::to_string(line_number) +
                         ": a merge must be two symbols separated by a space, got '" +
                         std::string(line) + "'");
  return {std::move(parts[0]), std::move(parts[1])};
}

} // namespace

// ---------------------------------------------------------------------------------------
// Tokenizer.
// ---------------------------------------------------------------------------------------

struct Tokenizer::Cache {
  // A live element sees user-typed prompts for hours; bound the memo like a small LRU
  // would, without the bookkeeping (prompts repeat, so a rebuilt cache refills quickly).
  static constexpr size_t kMaxEntries = 1 << 16;
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int64_t>> ids;
};

Tokenizer::Tokenizer() : cache_(std::make_unique<Cache>()) {}
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_memory(std::unordered_map<std::string, int64_t> vocab,
                                 const std::vector<std::pair<std::string, std::string>> &merges,
                                 const std::string &bos_token, const std::string &eos_token) {
  const auto bos = vocab.find(bos_token), eos = vocab.find(eos_token);
  if (bos == vocab.end() || eos == vocab.end())
    throw std::invalid_argument("tokenizer: the vocabulary lacks the special token '" +
                                (bos == vocab.end() ? bos_token : eos_token) + "'");
  Tokenizer t;
  t.bos_token_ = bos_token;
  t.eos_token_ = eos_token;
  t.bos_id_ = bos->second;
  t.eos_id_ = eos->second;
  for (const auto &[symbol, id] : vocab) {
    if (id < 0)
      throw std::invalid_argument("tokenizer: negative id " + std::to_string(id) + " for symbol '" +
                                  symbol + "'");
    if (!t.decoder_.emplace(id, symbol).second)
      throw std::invalid_argument("tokenizer: id " + std::to_string(id) +
                                  " is given to two symbols ('" + t.decoder_[id] + "' and '" +
                                  symbol + "')");
  }
  t.encoder_ = std::move(vocab);
  for (size_t rank = 0; rank < merges.size(); ++rank)
    t.merge_ranks_[merges[rank].first + ' ' + merges[rank].second] = static_cast<int>(rank);
  return t;
}

Tokenizer Tokenizer::from_bpe_gz(const std::string &path) {
  const std::string text = gunzip(read_file(path), path);
  if (!is_valid_utf8(text))
    file_error(path, "is not valid UTF-8");
  const auto lines = split_lines(text);
  if (lines.size() < kClipMergeCount + 1)
    file_error(path, "has " + std::to_string(lines.size()) +
                         " lines, expected a header and at "
                         "least " +
                         std::to_string(kClipMergeCount) + " merges");
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(kClipMergeCount);
  for (size_t i = 1; i <= kClipMergeCount; ++i)
    merges.push_back(parse_merge(lines[i], i + 1, path));

  // The reference builds a list and zips it with range(); a repeated symbol keeps its last
  // index, as assigning into the map in order does.
  const ByteSymbols &bytes = byte_symbols();
  std::unordered_map<std::string, int64_t> vocab;
  int64_t next_id = 0;
  for (uint8_t b : bytes.order)
    vocab[bytes.utf8[b]] = next_id++;
  for (uint8_t b : bytes.order)
    vocab[bytes.utf8[b] + "</w>"] = next_id++;
  for (const auto &[first, second] : merges)
    vocab[first + second] = next_id++;
  vocab["<start_of_text>"] = next_id++;
  vocab["<end_of_text>"] = next_id++;
  return from_memory(std::move(vocab), merges, "<start_of_text>", "<end_of_text>");
}

Tokenizer Tokenizer::byte_level() {
  const ByteSymbols &bytes = byte_symbols();
  std::unordered_map<std::string, int64_t> vocab;
  int64_t next_id = 0;
  for (uint8_t b : bytes.order)
    vocab[bytes.utf8[b]] = next_id++;
  for (uint8_t b : bytes.order)
    vocab[bytes.utf8[b] + "</w>"] = next_id++;
  vocab["<|startoftext|>"] = next_id++;
  vocab["<|endoftext|>"] = next_id++;
  return from_memory(std::move(vocab), {}, "<|startoftext|>", "<|endoftext|>");
}

void Tokenizer::save(const std::string &vocab_json_path, const std::string &merges_txt_path) const {
  nlohmann::json vocab = nlohmann::json::object();
  for (const auto &[symbol, id] : encoder_) {
    if (symbol == bos_token_)
      vocab["<|startoftext|>"] = id;
    else if (symbol == eos_token_)
      vocab["<|endoftext|>"] = id;
    else
      vocab[symbol] = id;
  }
  std::vector<const std::string *> merges(merge_ranks_.size());
  for (const auto &[pair, rank] : merge_ranks_)
    merges[rank] = &pair;
  std::ofstream v(vocab_json_path, std::ios::binary);
  v << vocab.dump();
  if (!v)
    throw std::runtime_error(vocab_json_path + ": cannot write");
  std::ofstream m(merges_txt_path, std::ios::binary);
  m << "#version: 0.2\n";
  for (const auto *pair : merges)
    if (pair)
      m << *pair << "\n";
  if (!m)
    throw std::runtime_error(merges_txt_path + ": cannot write");
}

Tokenizer Tokenizer::from_vocab_merges(const std::string &vocab_json_path,
                                       const std::string &merges_txt_path) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(vocab_json_path));
  } catch (const nlohmann::json::exception &e) {
    file_error(vocab_json_path, std::string("invalid JSON: ") + e.what());
  }
  if (!json.is_object())
    file_error(vocab_json_path, "expected a JSON object mapping symbols to ids");
  std::unordered_map<std::string, int64_t> vocab;
  vocab.reserve(json.size());
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (!it.value().is_number_integer())
      file_error(vocab_json_path, "the id of '" + it.key() + "' is not an integer");
    vocab[it.key()] = it.value().get<int64_t>();
  }

  const std::string text = read_file(merges_txt_path);
  if (!is_valid_utf8(text))
    file_error(merges_txt_path, "is not valid UTF-8");
  const auto lines = split_lines(text);
  std::vector<std::pair<std::string, std::string>> merges;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == 0 && lines[i].substr(0, 8) == "#version")
      continue;
    if (lines[i].find_first_not_of(" \t") == std::string_view::npos)
      continue;
    // transformers' CLIPTokenizer reads at most CLIP's merge count; a longer file would
    // produce symbols its vocabulary lacks.
    if (merges.size() == kClipMergeCount)
      break;
    merges.push_back(parse_merge(lines[i], i + 1, merges_txt_path));
  }
  try {
    return from_memory(std::move(vocab), merges, "<|startoftext|>", "<|endoftext|>");
  } catch (const std::invalid_argument &e) {
    file_error(vocab_json_path, e.what());
  }
}

Tokenizer Tokenizer::from_path(const std::string &path) {
  // stat() rather than std::filesystem: the torch wheel's libtorch.so exports a GCC 13
  // std::filesystem that the dynamic linker may bind our calls to, and parts of it crash with
  // Debian 12's libstdc++.
  auto exists = [](const std::string &p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
  };
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (exists(path + "/vocab.json") && exists(path + "/merges.txt"))
      return from_vocab_merges(path + "/vocab.json", path + "/merges.txt");
    if (exists(path + "/bpe_simple_vocab_16e6.txt.gz"))
      return from_bpe_gz(path + "/bpe_simple_vocab_16e6.txt.gz");
    file_error(path, "folder holds neither vocab.json + merges.txt nor "
                     "bpe_simple_vocab_16e6.txt.gz");
  }
  const auto slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (name == "vocab.json")
    return from_vocab_merges(path, dir + "/merges.txt");
  if (name == "merges.txt")
    return from_vocab_merges(dir + "/vocab.json", path);
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0)
    return from_bpe_gz(path);
  if (!exists(path))
    file_error(path, "does not exist");
  file_error(path, "is not a tokenizer file (expected vocab.json, merges.txt or a .gz merges "
                   "file)");
}

std::string Tokenizer::clean(const std::string &text) {
  return encode_utf8(clean_text(text));
}

int64_t Tokenizer::token_to_id(const std::string &symbol) const {
  const auto it = encoder_.find(symbol);
  return it == encoder_.end() ? -1 : it->second;
}

std::vector<int64_t> Tokenizer::bpe_ids(const std::string &token) const {
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    const auto it = cache_->ids.find(token);
    if (it != cache_->ids.end())
      return it->second;
  }
  const ByteSymbols &bytes = byte_symbols();
  std::vector<std::string> word;
  word.reserve(token.size());
  for (char ch : token)
    word.push_back(bytes.utf8[static_cast<unsigned char>(ch)]);
  word.back() += "</w>";

  // Repeatedly merge every occurrence of the best-ranked adjacent pair, left to right, as
  // the reference does; stop when no adjacent pair is a known merge.
  std::string key;
  while (word.size() > 1) {
    int best_rank = std::numeric_limits<int>::max();
    size_t best = 0;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      key.assign(word[i]).append(1, ' ').append(word[i + 1]);
      const auto it = merge_ranks_.find(key);
      if (it != merge_ranks_.end() && it->second < best_rank) {
        best_rank = it->second;
        best = i;
      }
    }
    if (best_rank == std::numeric_limits<int>::max())
      break;
    const std::string first = word[best], second = word[best + 1];
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(std::move(word[i]));
        ++i;
      }
    }
    word = std::move(merged);
  }

  std::vector<int64_t> ids;
  ids.reserve(word.size());
  for (const auto &symbol : word) {
    const auto it = encoder_.find(symbol);
    if (it == encoder_.end())
      throw std::invalid_argument("tokenizer: BPE symbol '" + symbol +
                                  "' is not in the vocabulary");
    ids.push_back(it->second);
  }
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->ids.size() >= Cache::kMaxEntries)
    cache_->ids.clear();
  cache_->ids.emplace(token, ids);
  return ids;
}

std::vector<int64_t> Tokenizer::encode(const std::string &text) const {
  const std::u32string s = clean_text(text);
  const std::u32string specials[] = {decode_utf8(bos_token_), decode_utf8(eos_token_)};
  const int64_t special_ids[] = {bos_id_, eos_id_};
  static const std::u32string contractions[] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  std::vector<int64_t> ids;
  const auto emit = [&](size_t begin, size_t end) {
    const auto piece = bpe_ids(encode_utf8(s.substr(begin, end - begin)));
    ids.insert(ids.end(), piece.begin(), piece.end());
  };
  const auto starts_with = [&](size_t pos, const std::u32string &p) {
    return !p.empty() && s.compare(pos, p.size(), p) == 0;
  };

  // CLIP's pattern, tried in order at each position:
  //   <specials>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
  // Whitespace matches nothing and is skipped. The text is already lower-case, so the
  // pattern's IGNORECASE needs no handling.
  size_t i = 0;
  while (i < s.size()) {
    bool matched = false;
    for (int k = 0; k < 2 && !matched; ++k) {
      if (starts_with(i, specials[k])) {
        ids.push_back(special_ids[k]);
        i += specials[k].size();
        matched = true;
      }
    }
    for (const auto &c : contractions) {
      if (!matched && starts_with(i, c)) {
        emit(i, i + c.size());
        i += c.size();
        matched = true;
      }
    }
    if (matched)
      continue;
    const char32_t c = s[i];
    size_t j = i + 1;
    if (is_letter(c)) {
      while (j < s.size() && is_letter(s[j]))
        ++j;
    } else if (is_number(c)) {
      // one digit per token
    } else if (is_space(c)) {
      ++i;
      continue;
    } else {
      while (j < s.size() && !is_letter(s[j]) && !is_number(s[j]) && !is_space(s[j]))
        ++j;
    }
    emit(i, j);
    i = j;
  }
  return ids;
}

TokenizedPrompt Tokenizer::tokenize(const std::string &text, int64_t context_length) const {
  if (context_length < 1)
    throw std::invalid_argument("tokenizer: context_length must be positive, got " +
                                std::to_string(context_length));
  const auto len = static_cast<size_t>(context_length);
  TokenizedPrompt out;
  out.ids.reserve(len);
  out.ids.push_back(bos_id_);
  const auto body = encode(text);
  out.ids.insert(out.ids.end(), body.begin(), body.end());
  out.ids.push_back(eos_id_);
  if (out.ids.size() > len) {
    out.ids.resize(len);
    out.ids.back() = eos_id_;
  }
  const size_t real = out.ids.size();
  out.ids.resize(len, kPadId);
  out.mask.assign(len, 0);
  std::fill(out.mask.begin(), out.mask.begin() + static_cast<std::ptrdiff_t>(real), 1);
  return out;
}

TokenizedBatch Tokenizer::tokenize_batch(const std::vector<std::string> &texts,
                                         int64_t context_length) const {
  if (context_length < 1)
    throw std::invalid_argument("tokenizer: context_length must be positive, got " +
                                std::to_string(context_length));
  const auto batch = static_cast<int64_t>(texts.size());
  TokenizedBatch out{torch::empty({batch, context_length}, torch::kInt64),
                     torch::empty({batch, context_length}, torch::kInt64)};
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto mask = out.attention_mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const TokenizedPrompt p = tokenize(texts[static_cast<size_t>(b)], context_length);
    for (int64_t k = 0; k < context_length; ++k) {
      ids[b][k] = p.ids[static_cast<size_t>(k)];
      mask[b][k] = p.mask[static_cast<size_t>(k)];
    }
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t> &ids) const {
  const ByteSymbols &bytes = byte_symbols();
  std::string raw;
  for (int64_t id : ids) {
    const auto it = decoder_.find(id);
    if (it == decoder_.end())
      throw std::out_of_range("tokenizer: id " + std::to_string(id) + " is not in the vocabulary");
    for (char32_t c : decode_utf8(it->second)) {
      const auto b = bytes.to_byte.find(c);
      if (b == bytes.to_byte.end())
        throw std::out_of_range("tokenizer: symbol '" + it->second + "' of id " +
                                std::to_string(id) + " is not byte-level BPE text");
      raw.push_back(static_cast<char>(b->second));
    }
  }
  std::string text = encode_utf8(decode_utf8(raw));
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 4, "</w>") == 0) {
      out.push_back(' ');
      i += 4;
    } else {
      out.push_back(text[i++]);
    }
  }
  const size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos)
    return {};
  return out.substr(first, out.find_last_not_of(' ') - first + 1);
}

} // namespace sam3
