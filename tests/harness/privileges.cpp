#include "harness/privileges.h"

#include <bpf/bpf.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace wsteer::test {

std::optional<std::string> missing_privileges() {
  if (::geteuid() != 0) return "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)";
  if (std::system("command -v ip >/dev/null 2>&1") != 0) return "needs iproute2 (ip)";
  struct statfs st {};
  if (::statfs("/sys/fs/bpf", &st) != 0 || st.f_type != BPF_FS_MAGIC) {
    if (::mount("bpf", "/sys/fs/bpf", "bpf", 0, nullptr) != 0) return "cannot mount bpffs on /sys/fs/bpf";
  }
  const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "wsteer_probe", 4, 4, 1, nullptr);
  if (fd < 0) return "cannot create BPF maps (no CAP_BPF?)";
  ::close(fd);
  return std::nullopt;
}

bool privileged_required() {
  const char* v = std::getenv("WSTEER_REQUIRE_PRIVILEGED");
  return v && std::string(v) == "1";
}

}  // namespace wsteer::test
