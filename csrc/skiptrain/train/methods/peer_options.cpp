// Validation of the peer methods' options: only the picked method's flags are checked,
// and each message names the flag, the allowed range and the value found.
#include "skiptrain/train/methods/peer_options.h"

#include "skiptrain/errors.h"
#include "skiptrain/train/methods/methods.h"

#include <cmath>
#include <sstream>

namespace skiptrain::train {
namespace {

template <typename T>
void require(bool ok, const char* flag, const char* expected, T found) {
  if (ok) return;
  std::ostringstream s;
  s << flag << " must be " << expected << ", got " << found;
  throw InputError(s.str());
}

}  // namespace

void PeerOptions::validate(const std::string& method) const {
  // Written so that NaN fails every check (comparisons with NaN are false).
  if (method == "smb") require(smb_fraction > 0 && smb_fraction <= 1, "--smb-fraction", "in (0, 1]", smb_fraction);
  if (method == "smd") require(smd_p >= 0 && smd_p < 1, "--smd-p", "in [0, 1)", smd_p);
  if (method == "ohem") require(ohem_ratio > 0 && ohem_ratio <= 1, "--ohem-ratio", "in (0, 1]", ohem_ratio);
  if (method == "sb") {
    require(sb_beta > 0 && std::isfinite(sb_beta), "--sb-beta", "> 0", sb_beta);
    require(sb_window >= 1, "--sb-window", ">= 1", sb_window);
  }
  if (uses_infobatch(method))
    require(infobatch_prune > 0 && infobatch_prune < 1, "--infobatch-prune", "in (0, 1)", infobatch_prune);
}

}  // namespace skiptrain::train
