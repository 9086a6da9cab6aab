// Umbrella header of libskiptrain: include this to get the whole C++ API.
// It also keeps the shared library linked: Debian's linker drops a library whose
// symbols nobody references, and the op registrations would go with it.
#pragma once

#include "skiptrain/version.h"
#include "skiptrain/errors.h"

namespace skiptrain::detail {
// Initialised by a call into libskiptrain, so every program that includes this
// header references the library and loads its TORCH_LIBRARY registrations.
inline const char* const kLibraryLinked = skiptrain::version();
}  // namespace skiptrain::detail
