// The zip and pickle checks of checkpoint_archive.h: a bounds-checked walk over the
// zip's central directory (zip64 included) and a dry run of data.pkl that tracks the
// stack's shape and just enough values to read each storage's persistent id.
#include "skiptrain/train/checkpoint_archive.h"

#include "skiptrain/errors.h"

#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

namespace skiptrain::train {
namespace {

constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDirectory = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kCentralEntry = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint64_t kSaturated16 = 0xFFFF, kSaturated32 = 0xFFFFFFFF;

// Bounds-checked little-endian reads from the file's bytes; every failure names the file.
class Bytes {
 public:
  Bytes(const std::vector<char>& bytes, const std::string& path) : b_(bytes), path_(path) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(path_ + ": not a readable checkpoint (" + why + ")");
  }
  uint64_t size() const { return b_.size(); }
  const char* data() const { return b_.data(); }
  // Throws unless [offset, offset + n) lies inside the file.
  void need(uint64_t offset, uint64_t n, const char* what) const {
    if (offset > b_.size() || n > b_.size() - offset) fail(std::string(what) + " extends past the end of the file");
  }
  // The n-byte (n <= 8) little-endian number at offset.
  uint64_t le(uint64_t offset, int n, const char* what) const {
    need(offset, static_cast<uint64_t>(n), what);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(b_[offset + i]);
    return v;
  }

 private:
  const std::vector<char>& b_;
  const std::string& path_;
};

struct Entry {
  std::string name;
  uint64_t data = 0;  // offset of the entry's bytes in the file
  uint64_t size = 0;
};

// The offset of the end-of-central-directory record: 22 bytes and a comment that ends the file.
uint64_t find_end_record(const Bytes& b) {
  if (b.size() < 22) b.fail("too short for a zip archive");
  const uint64_t lowest = b.size() >= 22 + kSaturated16 ? b.size() - 22 - kSaturated16 : 0;
  for (uint64_t off = b.size() - 22;; --off) {
    if (b.le(off, 4, "zip end record") == kEndOfCentralDirectory &&
        off + 22 + b.le(off + 20, 2, "zip end record") == b.size())
      return off;
    if (off == lowest) break;
  }
  b.fail("no zip end-of-central-directory record");
}

// The zip64 extra field (id 1) replaces, in this order, the fields saturated in the entry.
void apply_zip64_extra(const Bytes& b, uint64_t extra, uint64_t length, uint64_t& usize, uint64_t& csize,
                       uint64_t& local) {
  const uint64_t end = extra + length;
  while (extra + 4 <= end) {
    const uint64_t id = b.le(extra, 2, "zip extra field"), len = b.le(extra + 2, 2, "zip extra field");
    if (extra + 4 + len > end) b.fail("zip extra field longer than its entry says");
    uint64_t field = extra + 4;
    for (uint64_t* value : {&usize, &csize, &local}) {
      if (id != 1 || *value != kSaturated32) continue;
      if (field + 8 > extra + 4 + len) b.fail("zip64 extra field too short");
      *value = b.le(field, 8, "zip64 extra field");
      field += 8;
    }
    extra += 4 + len;
  }
}

// Every entry of the central directory, each checked to be uncompressed and inside the file.
std::vector<Entry> zip_entries(const Bytes& b) {
  const uint64_t end = find_end_record(b);
  uint64_t count = b.le(end + 10, 2, "zip end record");
  uint64_t directory_size = b.le(end + 12, 4, "zip end record");
  uint64_t directory = b.le(end + 16, 4, "zip end record");
  if (count == kSaturated16 || directory_size == kSaturated32 || directory == kSaturated32) {
    // Zip64: a 20-byte locator just before the end record points to the zip64 end record.
    if (end < 20 || b.le(end - 20, 4, "zip64 locator") != kZip64Locator) b.fail("zip64 fields without a locator");
    const uint64_t z = b.le(end - 20 + 8, 8, "zip64 locator");
    if (b.le(z, 4, "zip64 end record") != kZip64EndOfCentralDirectory) b.fail("bad zip64 end record");
    count = b.le(z + 32, 8, "zip64 end record");
    directory_size = b.le(z + 40, 8, "zip64 end record");
    directory = b.le(z + 48, 8, "zip64 end record");
  }
  b.need(directory, directory_size, "zip central directory");
  std::vector<Entry> entries;
  uint64_t p = directory;
  for (uint64_t i = 0; i < count; ++i) {
    if (b.le(p, 4, "zip central directory") != kCentralEntry) b.fail("bad zip central directory entry");
    const uint64_t method = b.le(p + 10, 2, "zip entry");
    uint64_t csize = b.le(p + 20, 4, "zip entry"), usize = b.le(p + 24, 4, "zip entry");
    const uint64_t name_length = b.le(p + 28, 2, "zip entry"), extra_length = b.le(p + 30, 2, "zip entry");
    const uint64_t comment_length = b.le(p + 32, 2, "zip entry");
    uint64_t local = b.le(p + 42, 4, "zip entry");
    b.need(p + 46, name_length + extra_length + comment_length, "zip entry");
    Entry e;
    e.name.assign(b.data() + p + 46, name_length);
    apply_zip64_extra(b, p + 46 + name_length, extra_length, usize, csize, local);
    // torch writes every record stored (method 0); LibTorch reads stored records only.
    if (method != 0 || csize != usize) b.fail("entry '" + e.name + "' is compressed");
    if (b.le(local, 4, "zip local header") != kLocalHeader) b.fail("entry '" + e.name + "' has no local header");
    e.data = local + 30 + b.le(local + 26, 2, "zip local header") + b.le(local + 28, 2, "zip local header");
    e.size = usize;
    b.need(e.data, e.size, "a zip entry");
    entries.push_back(std::move(e));
    p += 46 + name_length + extra_length + comment_length;
  }
  if (p > directory + directory_size) b.fail("zip central directory longer than its end record says");
  return entries;
}

// Bytes per element of the storage types torch's picklers name ("torch FloatStorage", ...).
const std::map<std::string, int64_t>& storage_itemsizes() {
  static const std::map<std::string, int64_t> sizes = {
      {"torch\nDoubleStorage", 8}, {"torch\nFloatStorage", 4},  {"torch\nHalfStorage", 2},
      {"torch\nBFloat16Storage", 2}, {"torch\nLongStorage", 8}, {"torch\nIntStorage", 4},
      {"torch\nShortStorage", 2},  {"torch\nCharStorage", 1},   {"torch\nByteStorage", 1},
      {"torch\nBoolStorage", 1},   {"torch\nComplexFloatStorage", 8}, {"torch\nComplexDoubleStorage", 16}};
  return sizes;
}

// What the dry run knows of a value: only what a storage's persistent id is made of.
struct Value {
  enum Kind { Other, String, Int, Global, Tuple } kind = Other;
  std::string text;  // String: the string; Global: "module\nname"
  int64_t number = 0;
  std::vector<std::shared_ptr<const Value>> items;  // Tuple: up to 5 scalar items, else Other
};
using ValuePtr = std::shared_ptr<const Value>;

// A dry run of a pickle program: operands inside the record, the opcodes torch's and Python's
// picklers write (protocol <= 3), no pop below the stack or an open MARK, memo keys dense, and
// every storage's record holding the bytes its persistent id declares: LibTorch 1.13 sizes the
// storage by the declared numel over the record's smaller buffer (a heap overflow, fuzzer-found).
class PickleCheck {
 public:
  PickleCheck(const Bytes& b, const Entry& e, const std::map<std::string, uint64_t>& records)
      : b_(b), p_(b.data() + e.data), n_(e.size), name_(e.name), records_(records),
        prefix_(e.name.substr(0, e.name.size() - std::string("data.pkl").size())) {}

  void run() {
    while (true) {
      const uint8_t op = static_cast<uint8_t>(operand(1)[0]);
      switch (op) {
        case 0x80: operand(1); break;                               // PROTO
        case '(': marks_.push_back(stack_.size()); break;           // MARK
        case '.':                                                   // STOP
          if (!marks_.empty() || stack_.size() != 1) fail("STOP with a stack other than one value");
          return;
        case 'N': case 0x88: case 0x89: case '}': case ']': case ')': push(); break;  // constants, empties
        case 'K': push_int(static_cast<int64_t>(number(1))); break;  // BININT1
        case 'M': push_int(static_cast<int64_t>(number(2))); break;  // BININT2
        case 'J': push_int(static_cast<int32_t>(number(4))); break;  // BININT (signed)
        case 'G': operand(8); push(); break;                        // BINFLOAT
        case 0x8a: operand(number(1)); push(); break;               // LONG1
        case 'U': case 'C': operand(number(1)); push(); break;      // SHORT_BINSTRING, SHORT_BINBYTES
        case 'T': case 'B': operand(number(4)); push(); break;      // BINSTRING, BINBYTES
        case 'X': {                                                 // BINUNICODE
          const uint64_t length = number(4);
          const char* text = operand(length);
          push_text(Value::String, std::string(text, length));
          break;
        }
        case 'c': {                                                 // GLOBAL module\nname\n
          const uint64_t start = i_;
          line();
          line();
          push_text(Value::Global, std::string(p_ + start, i_ - start - 1));
          break;
        }
        case 'q': put(number(1)); break;                            // BINPUT
        case 'r': put(number(4)); break;                            // LONG_BINPUT
        case 'h': get(number(1)); break;                            // BINGET
        case 'j': get(number(4)); break;                            // LONG_BINGET
        case '0': pop(1); break;                                    // POP
        case '1': pop_mark(); break;                                // POP_MARK
        case '2': pop(1); stack_.push_back(popped_.back()); stack_.push_back(popped_.back()); break;  // DUP
        case 't': push_tuple(pop_mark()); break;                    // TUPLE
        case 'l': pop_mark(); push(); break;                        // LIST
        case 'd': pairs(pop_mark().size()); push(); break;          // DICT
        case 0x85: case 0x86: case 0x87: pop(op - 0x84); push_tuple(popped_); break;  // TUPLE1..3
        case 'a': pop(2); push(); break;                            // APPEND: list, item -> list
        case 'e': pop_mark(); pop(1); push(); break;                // APPENDS
        case 's': pop(3); push(); break;                            // SETITEM: dict, key, value -> dict
        case 'u': pairs(pop_mark().size()); pop(1); push(); break;  // SETITEMS
        case 'R': case 'b': case 0x81: pop(2); push(); break;       // REDUCE, BUILD, NEWOBJ
        case 'Q': pop(1); check_storage(*popped_[0]); push(); break;  // BINPERSID
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("unexpected opcode ") + hex + " at byte " + std::to_string(i_ - 1));
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { b_.fail(name_ + ": " + why); }
  // The next n bytes of the program.
  const char* operand(uint64_t n) {
    if (n > n_ - i_) fail("ends inside an opcode at byte " + std::to_string(i_));
    const char* at = p_ + i_;
    i_ += n;
    return at;
  }
  // An unsigned little-endian operand of n bytes.
  uint64_t number(int n) {
    const char* at = operand(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(at[i]);
    return v;
  }
  void line() {
    while (operand(1)[0] != '\n') {
    }
  }
  void push() { stack_.push_back(other_); }
  void push_int(int64_t v) {
    auto value = std::make_shared<Value>();
    value->kind = Value::Int;
    value->number = v;
    stack_.push_back(std::move(value));
  }
  void push_text(Value::Kind kind, std::string text) {
    auto value = std::make_shared<Value>();
    value->kind = kind;
    value->text = std::move(text);
    stack_.push_back(std::move(value));
  }
  // A tuple of 5 scalars (a persistent id's shape) keeps its items; any other tuple is just a value.
  void push_tuple(const std::vector<ValuePtr>& items) {
    bool scalars = items.size() == 5;
    for (const auto& item : items) scalars = scalars && item->kind != Value::Other && item->kind != Value::Tuple;
    if (!scalars) return push();
    auto value = std::make_shared<Value>();
    value->kind = Value::Tuple;
    value->items = items;
    stack_.push_back(std::move(value));
  }
  // Pops k values into popped_ (oldest first); none may lie below the innermost MARK.
  void pop(uint64_t k) {
    const uint64_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() - floor < k) fail("pops more values than it pushed at byte " + std::to_string(i_ - 1));
    popped_.assign(stack_.end() - static_cast<int64_t>(k), stack_.end());
    stack_.resize(stack_.size() - k);
  }
  // Closes the innermost MARK; returns the values that were above it.
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) fail("closes a MARK that was never opened at byte " + std::to_string(i_ - 1));
    std::vector<ValuePtr> items(stack_.begin() + static_cast<int64_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  void pairs(uint64_t items) {
    if (items % 2 != 0) fail("a dict built from an odd number of values at byte " + std::to_string(i_ - 1));
  }
  // Picklers number memo slots 0, 1, 2, ...; LibTorch allocates every slot up to the key.
  void put(uint64_t key) {
    pop(1);
    stack_.push_back(popped_[0]);
    if (key > memo_.size()) fail("memo key " + std::to_string(key) + " skips ahead of " + std::to_string(memo_.size()));
    if (key == memo_.size()) memo_.push_back(popped_[0]);
    else memo_[key] = popped_[0];
  }
  void get(uint64_t key) {
    if (key >= memo_.size()) fail("reads memo key " + std::to_string(key) + " that was never stored");
    stack_.push_back(memo_[key]);
  }
  // ('storage', torch.<T>Storage, key, location, numel): the record data/<key> holds numel T's.
  void check_storage(const Value& id) {
    const auto& it = id.items;
    if (id.kind != Value::Tuple || it[0]->kind != Value::String || it[0]->text != "storage" ||
        it[1]->kind != Value::Global || it[2]->kind != Value::String || it[3]->kind != Value::String ||
        it[4]->kind != Value::Int)
      fail("a persistent id that is not a storage at byte " + std::to_string(i_ - 1));
    const auto itemsize = storage_itemsizes().find(it[1]->text);
    if (itemsize == storage_itemsizes().end()) fail("unknown storage type at byte " + std::to_string(i_ - 1));
    const auto record = records_.find(prefix_ + "data/" + it[2]->text);
    if (record == records_.end()) fail("storage '" + it[2]->text + "' has no record");
    const int64_t numel = it[4]->number;
    if (numel < 0 || static_cast<uint64_t>(numel) > record->second / static_cast<uint64_t>(itemsize->second))
      fail("storage '" + it[2]->text + "' declares " + std::to_string(numel) + " elements, its record holds " +
           std::to_string(record->second) + " bytes");
  }

  const Bytes& b_;
  const char* p_;
  uint64_t n_;
  const std::string& name_;
  const std::map<std::string, uint64_t>& records_;  // entry name -> size
  const std::string prefix_;                         // "archive/" of "archive/data.pkl"
  uint64_t i_ = 0;
  const ValuePtr other_ = std::make_shared<Value>();
  std::vector<ValuePtr> stack_;
  std::vector<uint64_t> marks_;  // stack sizes at each open MARK, innermost last
  std::vector<ValuePtr> popped_;
  std::vector<ValuePtr> memo_;
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

void check_checkpoint_archive(const std::vector<char>& bytes, const std::string& path) {
  const Bytes b(bytes, path);
  const std::vector<Entry> entries = zip_entries(b);
  // Where names repeat, the smallest record: whichever one LibTorch reads must be large enough.
  std::map<std::string, uint64_t> records;
  for (const auto& entry : entries) {
    auto [it, added] = records.emplace(entry.name, entry.size);
    if (!added) it->second = std::min(it->second, entry.size);
  }
  bool has_program = false;
  for (const auto& entry : entries) {
    if (!ends_with(entry.name, "/data.pkl") && entry.name != "data.pkl") continue;
    PickleCheck(b, entry, records).run();
    has_program = true;
  }
  if (!has_program) b.fail("no data.pkl in the archive");
}

}  // namespace skiptrain::train
