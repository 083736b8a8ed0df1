#include "datapath/bpffs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/file.h>
#include <sys/statfs.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

namespace wsteer::datapath {
namespace {

bool on_bpffs(const std::filesystem::path& p) {
  struct statfs st {};
  return ::statfs(p.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

}  // namespace

void ensure_bpffs(const std::filesystem::path& dir) {
  const auto parent = dir.parent_path();
  if (on_bpffs(parent)) return;
  const std::filesystem::path sys_bpf = "/sys/fs/bpf";
  const bool under_sys_bpf = dir.lexically_relative(sys_bpf).native().rfind("..", 0) != 0;
  if (under_sys_bpf && !on_bpffs(sys_bpf)) {
    if (::mount("bpf", sys_bpf.c_str(), "bpf", 0, nullptr) != 0)
      throw std::runtime_error("cannot mount bpffs on /sys/fs/bpf: " + std::string(std::strerror(errno)));
    if (on_bpffs(parent)) return;
    std::filesystem::create_directories(parent);
    if (on_bpffs(parent)) return;
  }
  throw std::runtime_error(parent.string() + " is not on a BPF filesystem (mount -t bpf bpf " +
                           sys_bpf.string() + ", or pick --bpffs under a bpffs mount)");
}

UniqueFd lock_pin_dir(const std::filesystem::path& dir, std::chrono::milliseconds wait) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw std::system_error(errno, std::generic_category(), "open " + dir.string());
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("another wsteer-agent is using " + dir.string() + " (pick another --bpffs folder)");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return fd;
}

}  // namespace wsteer::datapath
