#include "steering/maglev.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace wsteer::steering {

namespace {

// Domain salts so a member's offset and skip are independent hashes of its name.
constexpr std::uint64_t kOffsetSalt = 0x6f6666736574ULL;  // "offset"
constexpr std::uint64_t kSkipSalt = 0x736b6970ULL;        // "skip"
constexpr std::uint32_t kEmpty = std::numeric_limits<std::uint32_t>::max();

// Where one member is in its permutation of the slots: offset, offset+skip, offset+2*skip, ...
struct Cursor {
  std::uint32_t position;
  std::uint32_t skip;
};

}  // namespace

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (std::uint64_t d = 3; d * d <= n; d += 2)
    if (n % d == 0) return false;
  return true;
}

std::vector<std::uint32_t> build_maglev_table(std::span<const MaglevMember> members, std::uint32_t size,
                                              std::uint64_t seed) {
  if (!is_prime(size)) throw std::invalid_argument("Maglev table size " + std::to_string(size) + " is not prime");
  if (members.empty()) return {};

  // Name order, not input order: two agents given the same endpoints build the same table.
  std::vector<const MaglevMember*> sorted;
  sorted.reserve(members.size());
  for (const auto& m : members) {
    if (m.weight == 0) throw std::invalid_argument("Maglev member " + m.name + " has weight 0");
    sorted.push_back(&m);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->name < b->name; });

  std::vector<Cursor> cursors;
  cursors.reserve(sorted.size());
  for (const auto* m : sorted) {
    const auto offset = static_cast<std::uint32_t>(stable_hash(m->name, seed ^ kOffsetSalt) % size);
    const auto skip = size > 1 ? static_cast<std::uint32_t>(stable_hash(m->name, seed ^ kSkipSalt) % (size - 1)) + 1 : 1;
    cursors.push_back({offset, skip});
  }

  // Weights: in every round each member earns its weight in credit and claims one slot per
  // max_weight of credit, so the heaviest members claim one slot a round and the others
  // proportionally fewer. Slot counts end within about one slot of the exact weight share.
  const std::uint64_t max_weight = std::max_element(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
                                     return a->weight < b->weight;
                                   })[0]->weight;
  std::vector<std::uint64_t> credit(sorted.size(), 0);
  std::vector<std::uint32_t> table(size, kEmpty);
  std::uint32_t filled = 0;
  while (true) {
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      credit[i] += sorted[i]->weight;
      for (; credit[i] >= max_weight; credit[i] -= max_weight) {
        // Claim the member's next preferred slot that nobody holds yet.
        auto& cursor = cursors[i];
        while (table[cursor.position] != kEmpty)
          cursor.position = static_cast<std::uint32_t>((std::uint64_t{cursor.position} + cursor.skip) % size);
        table[cursor.position] = sorted[i]->id;
        if (++filled == size) return table;
      }
    }
  }
}

}  // namespace wsteer::steering
