// One loaded model per (weights file, device, precision) in the process: every element or
// program that names the same model shares it, so N streams do not load N copies.
#pragma once

#include "model/model.h"

#include <cstdint>
#include <memory>
#include <string>

namespace sam3 {

// The shared model for `path` on `device` in `precision`, loading it on first use. The
// registry holds it only weakly: the model is freed when its last user lets go. A weights file
// replaced on disk since (renamed over or rewritten: another inode, size or mtime) is loaded
// anew; models already loaded keep running on their own copy of the weights. Throws what
// Model::load throws.
std::shared_ptr<Model> acquire_model(const std::string &path, const std::string &device,
                                     Precision precision);

// How many times a model was actually loaded by acquire_model() in this process.
uint64_t model_load_count();

} // namespace sam3
