// Version of libskiptrain and the check that its operators are registered.
#pragma once

namespace skiptrain {

// The library version, e.g. "0.1.0".
const char* version();

// True when the skiptrain:: operators are visible to the dispatcher.
bool ops_registered();

}  // namespace skiptrain
