// Precompiled for every libsam3 source: LibTorch's C++ headers take ~15 s to parse per file,
// several times the cost of the file's own code.

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>
