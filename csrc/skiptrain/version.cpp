// Version string and the root TORCH_LIBRARY block; every op adds its own
// schema with TORCH_LIBRARY_FRAGMENT next to its implementation.
#include "skiptrain/version.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

namespace skiptrain {

const char* version() { return SKIPTRAIN_VERSION; }

// Each op's file declares its own schema; this names the namespace once.
TORCH_LIBRARY(skiptrain, m) { m.def("version() -> str", [] { return std::string(SKIPTRAIN_VERSION); }); }

bool ops_registered() {
  return c10::Dispatcher::singleton().findSchema({"skiptrain::version", ""}).has_value();
}

}  // namespace skiptrain
