// Structural checks of a checkpoint file before LibTorch parses it. LibTorch 1.13's
// unpickler trusts the file: a 4-byte string length makes it allocate up to 4 GB before
// it finds the file too short, a memo key allocates that many slots, and a storage gets
// the size its persistent id declares over a shorter record (a heap overflow); the first
// and last were found by fuzzing. So the loader first checks the container (a zip of
// uncompressed entries, each inside the file) and the data.pkl program (only opcodes a
// pickler writes, operands inside the record, no stack underflow, memo keys dense, each
// storage's record as long as declared).
#pragma once

#include <string>
#include <vector>

namespace skiptrain::train {

// Throws InputError naming `path` when `bytes` is not a well-formed torch zip archive
// whose data.pkl is a well-formed pickle program. Passing says nothing about the contents.
void check_checkpoint_archive(const std::vector<char>& bytes, const std::string& path);

}  // namespace skiptrain::train
