// Counts the keys of a BPF hash map by walking them (there is no size call for hash maps).
#pragma once

#include <bpf/bpf.h>

#include <cstddef>
#include <cstdint>

namespace wsteer::datapath {

inline std::size_t count_map_keys(int map_fd) {
  std::size_t n = 0;
  std::uint64_t key = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
    ++n;
    key = next;
    prev = &key;
  }
  return n;
}

}  // namespace wsteer::datapath
