#include "model/weights.h"

#include <set>
#include <sstream>

namespace sam3 {
namespace {

std::vector<std::pair<std::string, torch::Tensor>> named_state(const torch::nn::Module &module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto &p : module.named_parameters(true))
    out.emplace_back(p.key(), p.value());
  for (const auto &b : module.named_buffers(true))
    out.emplace_back(b.key(), b.value());
  return out;
}

std::string shape_str(c10::IntArrayRef shape) {
  std::ostringstream s;
  s << shape;
  return s.str();
}

void list(std::ostringstream &msg, const char *what, const std::vector<std::string> &keys) {
  if (keys.empty())
    return;
  constexpr size_t kShown = 12;
  msg << "\n  " << keys.size() << " " << what << ":";
  for (size_t i = 0; i < keys.size() && i < kShown; ++i)
    msg << "\n    " << keys[i];
  if (keys.size() > kShown)
    msg << "\n    ... and " << keys.size() - kShown << " more";
}

} // namespace

void load_weights(torch::nn::Module &module, const SafetensorsFile &file, const std::string &prefix,
                  const std::vector<std::string> &ignored) {
  const auto state = named_state(module);
  std::vector<std::string> missing, misshaped, unexpected;
  std::set<std::string> wanted;
  for (const auto &[name, tensor] : state) {
    const auto key = prefix + name;
    wanted.insert(key);
    if (!file.has(key)) {
      missing.push_back(key);
      continue;
    }
    const auto &info = file.info(key);
    if (c10::IntArrayRef(info.shape) != tensor.sizes())
      misshaped.push_back(key + " (file " + shape_str(info.shape) + ", model " +
                          shape_str(tensor.sizes()) + ")");
  }
  for (const auto &key : file.names()) {
    if (key.compare(0, prefix.size(), prefix) != 0 || wanted.count(key))
      continue;
    const auto rel = key.substr(prefix.size());
    bool skip = false;
    for (const auto &ig : ignored)
      skip = skip || rel.compare(0, ig.size(), ig) == 0;
    if (!skip)
      unexpected.push_back(key);
  }
  if (!missing.empty() || !misshaped.empty() || !unexpected.empty()) {
    std::ostringstream msg;
    msg << file.path() << ": the weights do not match the model built from config.json"
        << (prefix.empty() ? "" : " (under \"" + prefix + "\")");
    list(msg, "missing keys", missing);
    list(msg, "keys with the wrong shape", misshaped);
    list(msg, "unexpected keys", unexpected);
    throw ModelFileError(msg.str());
  }
  torch::NoGradGuard no_grad;
  for (const auto &[name, tensor] : state) {
    auto src = file.tensor(prefix + name);
    tensor.copy_(src.to(tensor.scalar_type()));
  }
}

std::vector<std::pair<std::string, torch::Tensor>> state_dict(const torch::nn::Module &module,
                                                              const std::string &prefix) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto &[name, tensor] : named_state(module))
    out.emplace_back(prefix + name, tensor.detach().to(torch::kCPU).contiguous());
  return out;
}

} // namespace sam3
