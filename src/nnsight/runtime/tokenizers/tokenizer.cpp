#include "nnsight/runtime/tokenizers/tokenizer.h"

namespace nnsight {

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string out;
  int64_t prev = -1;
  for (int64_t id : ids) {
    out += decode_piece(prev, id, skip_special);
    prev = id;
  }
  return out;
}

}  // namespace nnsight
