// What the LibTorch this project is built against reaches on one large matrix product, per
// precision, against the machine's peak: says whether the CPU matmuls run on an optimised
// BLAS / oneDNN and use every core.
//
//   bench_matmul [--size N] [--iterations K] [--ghz G]
//
// Peak = threads x clock x FLOP per cycle per core. The clock is /proc/cpuinfo's "cpu MHz"
// (the nominal clock on a VM; --ghz overrides it). FLOP per cycle assumes two vector FMA
// ports: fp32 2 x 16 lanes x 2 with AVX-512 (2 x 8 x 2 with AVX2); bf16 with AVX512_BF16,
// whose dot-product instruction does two products per fp32 lane (2 x 16 x 2 x 2); fp16 with
// AVX512_FP16 (2 x 32 x 2); AMX tiles, where the kernel exposes them, 1024 bf16 FLOP.
#include "common/threads.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Cpu {
  double ghz = 0;
  std::set<std::string> flags;
  std::string model;
};

Cpu read_cpu() {
  Cpu cpu;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    const auto key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const auto value = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string();
    if (key == "cpu MHz" && cpu.ghz == 0)
      cpu.ghz = std::stod(value) / 1000.0;
    else if (key == "model name" && cpu.model.empty())
      cpu.model = value;
    else if (key == "flags" && cpu.flags.empty()) {
      std::istringstream words(value);
      std::string w;
      while (words >> w)
        cpu.flags.insert(w);
    }
  }
  return cpu;
}

double flop_per_cycle(const Cpu &cpu, torch::ScalarType dtype) {
  const bool avx512 = cpu.flags.count("avx512f") > 0;
  switch (dtype) {
  case torch::kBFloat16:
    if (cpu.flags.count("amx_bf16"))
      return 1024;
    return cpu.flags.count("avx512_bf16") ? 128 : (avx512 ? 64 : 32);
  case torch::kHalf:
    if (cpu.flags.count("amx_fp16"))
      return 1024;
    return cpu.flags.count("avx512_fp16") ? 128 : (avx512 ? 64 : 32);
  default:
    return avx512 ? 64 : 32;
  }
}

} // namespace

int main(int argc, char **argv) {
  int64_t n = 2048;
  int iterations = 10;
  double ghz = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--size")
      n = std::stoll(v);
    else if (a == "--iterations")
      iterations = std::stoi(v);
    else if (a == "--ghz")
      ghz = std::stod(v);
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  const Cpu cpu = read_cpu();
  if (ghz == 0)
    ghz = cpu.ghz;
  sam3::use_cpu_threads();
  const int threads = at::get_num_threads();
  torch::NoGradGuard no_grad;
  std::printf("LibTorch %s, %s, %d threads, %.2f GHz, %ldx%ld matmul, %d iterations\n\n",
              TORCH_VERSION, cpu.model.c_str(), threads, ghz, static_cast<long>(n),
              static_cast<long>(n), iterations);
  std::printf("| dtype | median ms | GFLOP/s | peak GFLOP/s | of peak |\n");
  std::printf("|-------|-----------|---------|--------------|---------|\n");
  for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kHalf}) {
    auto a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
    auto c = torch::mm(a, b); // warm-up: kernel selection, packing buffers
    std::vector<double> ms;
    for (int k = 0; k < iterations; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      c = torch::mm(a, b);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    const double gflops = 2.0 * n * n * n / (median * 1e6);
    const double peak = threads * ghz * flop_per_cycle(cpu, dtype);
    std::printf("| %-5s | %9.2f | %7.1f | %12.1f | %6.0f%% |\n",
                dtype == torch::kFloat32 ? "fp32" : (dtype == torch::kBFloat16 ? "bf16" : "fp16"),
                median, gflops, peak, 100.0 * gflops / peak);
  }
  return 0;
}
