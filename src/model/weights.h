// Strict, name-for-name loading of a safetensors state dict into a module tree whose
// parameter names follow transformers (see each block's header).
#pragma once

#include "io/safetensors.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace sam3 {

// Copies every parameter and buffer of `module` from `file` under `prefix` (e.g.
// "detector_model."), converting the dtype to the module's. Throws ModelFileError listing the
// missing, mis-shaped and unexpected keys (file keys under `prefix` the module does not have,
// except those starting with one of `ignored`, given relative to `prefix`) -- the file is
// never partly loaded without an error.
void load_weights(torch::nn::Module &module, const SafetensorsFile &file, const std::string &prefix,
                  const std::vector<std::string> &ignored = {});

// The state dict of `module` under `prefix`, as contiguous CPU tensors, ready for
// write_safetensors().
std::vector<std::pair<std::string, torch::Tensor>> state_dict(const torch::nn::Module &module,
                                                              const std::string &prefix);

} // namespace sam3
