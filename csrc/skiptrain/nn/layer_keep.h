// A per-layer kept fraction of Error Map Pruning, alone so that the model zoo (network.h) can name
// its models' default rules without the conv headers; set_emp and parse_layer_keep: emp_settings.h.
#pragma once

#include <string>

namespace skiptrain::nn {

// A per-layer kept fraction: the convs whose qualified name (e.g. "layer1.0.conv2") matches
// `pattern` keep `keep` of their channels. Patterns are shell wildcards: *, ?, [...] and [!...]
// ("layer1.*", "*.shortcut"), with no backslash escapes, as Python's fnmatch reads them.
struct LayerKeep {
  std::string pattern;
  double keep = 1.0;
};

}  // namespace skiptrain::nn
