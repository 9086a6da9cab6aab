// The only place that looks at the LibTorch version: skiptrain builds against
// Debian's torch 1.13 and against torch 2.x, using APIs both have.
#pragma once

#include <torch/version.h>

#define SKIPTRAIN_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))
