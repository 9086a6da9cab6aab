// Include this in every program that uses libskiptrain (the trainer, the tests): it brings
// the version and the error types, and keeps the shared library linked: a linker run with
// --as-needed (Debian's default) drops a library whose symbols nobody references, and the
// op registrations would go with it. The rest of the API is in each part's own headers.
#pragma once

#include "skiptrain/version.h"
#include "skiptrain/errors.h"

namespace skiptrain::detail {
// Initialised by a call into libskiptrain, so every program that includes this
// header references the library and loads its TORCH_LIBRARY registrations.
inline const char* const kLibraryLinked = skiptrain::version();
}  // namespace skiptrain::detail
