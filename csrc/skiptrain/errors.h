// Errors the user can fix (bad files, flags, checkpoints). Front ends print the
// message on one line and exit non-zero; anything else is a bug.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace skiptrain {

// Raised for bad input: the message names the file or flag, what was expected and what was found.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised when training cannot go on (a NaN or infinite loss): names the step and the fix.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws InputError "<flag> must be <expected>, got <found>": for option checks that name the flag.
template <typename T>
[[noreturn]] void reject_flag(const char* flag, const char* expected, const T& found) {
  std::ostringstream s;
  s << flag << " must be " << expected << ", got " << found;
  throw InputError(s.str());
}

}  // namespace skiptrain
